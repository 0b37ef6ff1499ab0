"""Prometheus gates: PromQL templates, windows and their verdicts."""
