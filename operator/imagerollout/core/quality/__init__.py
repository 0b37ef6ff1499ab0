"""Quality gates: the sampled suite judged pair by pair."""
