"""Go-style duration strings and the status timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from imagerollout.core.durations import format_time, parse_duration, parse_time, seconds_between


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1h30m", timedelta(hours=1, minutes=30), id="hours-and-minutes"),
        pytest.param("250ms", timedelta(milliseconds=250), id="milliseconds"),
        pytest.param("45s", timedelta(seconds=45), id="seconds"),
        pytest.param("10m", timedelta(minutes=10), id="minutes"),
        pytest.param("24h", timedelta(hours=24), id="a-day-in-hours"),
        pytest.param("1m30s500ms", timedelta(seconds=90.5), id="three-units"),
        pytest.param("0s", timedelta(0), id="zero"),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("5", id="no-unit"),
        pytest.param("1d", id="days-are-not-go-units"),
        pytest.param("1h30", id="trailing-number"),
        pytest.param("1h 30m", id="space"),
        pytest.param("-5s", id="negative"),
        pytest.param("1.5h", id="fraction"),
        pytest.param("5S", id="upper-case-unit"),
        pytest.param("s", id="unit-only"),
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_format_time_is_utc_with_whole_seconds() -> None:
    moment = datetime(2025, 6, 1, 14, 0, 5, 999_999, tzinfo=timezone(timedelta(hours=2)))

    assert format_time(moment) == "2025-06-01T12:00:05Z"


def test_parse_time_round_trips_format_time() -> None:
    moment = datetime(2025, 6, 1, 12, 0, 5, tzinfo=UTC)

    assert parse_time(format_time(moment)) == moment


def test_seconds_between() -> None:
    now = datetime(2025, 6, 1, 12, 1, 30, tzinfo=UTC)

    assert seconds_between("2025-06-01T12:00:00Z", now) == 90.0
    assert seconds_between("2025-06-01T12:02:00Z", now) == -30.0
