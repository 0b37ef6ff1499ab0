"""The rollout state machine: steps, decisions, actions and conditions."""
