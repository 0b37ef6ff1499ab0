"""The interface between metric gates and a metrics backend."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class MetricQueryError(Exception):
    """A query gave no usable answer. str() is one short line, fit for an Event or a status
    condition message, and never carries credentials."""


class ProviderUnreachableError(MetricQueryError):
    """No answer at all (connection refused, timeout): other queries would fail the same way."""


class MetricProvider(Protocol):
    def query(self, promql: str, at: datetime) -> float | None:
        """The value of an instant query at `at`.

        None when the query matches no series; the float (NaN and ±Inf included, the caller
        judges them) when it returns one series or a scalar. Raises MetricQueryError when the
        backend is unreachable, too slow, refuses the query, or returns several series.
        """
        ...
