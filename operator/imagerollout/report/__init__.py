"""The evidence report: one self-contained HTML page per rollout attempt (docs/oncall.md)."""
