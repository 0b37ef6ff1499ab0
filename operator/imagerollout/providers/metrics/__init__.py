"""Metric providers: run a PromQL query at a point in time and return one number.

The quality gates only see the `MetricProvider` protocol; `prometheus.PrometheusProvider`
is the implementation that talks HTTP.
"""

from imagerollout.providers.metrics.provider import (
    MetricProvider,
    MetricQueryError,
    ProviderUnreachableError,
)

__all__ = ["MetricProvider", "MetricQueryError", "ProviderUnreachableError"]
