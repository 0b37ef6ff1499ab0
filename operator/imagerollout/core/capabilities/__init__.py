"""Capability routing: where each job type goes, and the pins that keep it on a model."""
