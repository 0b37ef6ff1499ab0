"""Go-style duration strings ("1h30m", "45s", "250ms"), as the CRD's CEL rules accept them."""

import re
from datetime import UTC, datetime, timedelta

_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta:
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_precise_time(moment: datetime) -> str:
    """RFC 3339 with milliseconds: a step's hold is timed from its start, not the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str) -> datetime:
    """Whole-second or fractional RFC 3339 UTC times, as format_time and Kubernetes write."""
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.strptime(text, pattern).replace(tzinfo=UTC)


def seconds_between(start: str, now: datetime) -> float:
    return (now - parse_time(start)).total_seconds()
