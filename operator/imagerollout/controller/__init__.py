"""The operator runtime: kopf handlers, the reconcile loop, observation and the sampler."""
