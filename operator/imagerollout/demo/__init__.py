"""Demo tooling: a model server, synthetic users and their metrics; never used by the runtime."""
