"""PrometheusProvider against a real Prometheus on loopback (the session `prometheus` fixture)."""

from __future__ import annotations

import math
import socket
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imagerollout.providers.metrics import (
    MetricProvider,
    MetricQueryError,
    ProviderUnreachableError,
)
from imagerollout.providers.metrics.prometheus import PrometheusAuth, PrometheusProvider
from tests.prometheus_server import PrometheusServer, free_port
from tests.providers.metrics.pki import make_ca

TWO_SERIES = (
    'label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")'
)


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def provider(prometheus: PrometheusServer) -> Iterator[PrometheusProvider]:
    with PrometheusProvider(prometheus.url, timeout=5) as provider:
        yield provider


def test_it_is_a_metric_provider(provider: PrometheusProvider) -> None:
    as_protocol: MetricProvider = provider
    assert as_protocol.query("vector(1)", now()) == 1.0


@pytest.mark.parametrize(
    ("promql", "expected"),
    [("1 + 1", 2.0), ("vector(3.5)", 3.5), ("sum(vector(1) * 4)", 4.0), ("-Inf", -math.inf)],
)
def test_a_scalar_or_single_series_gives_its_value(
    provider: PrometheusProvider, promql: str, expected: float
) -> None:
    assert provider.query(promql, now()) == expected


def test_no_series_gives_none(provider: PrometheusProvider) -> None:
    assert provider.query('up{job="no-such-job"}', now()) is None
    assert provider.query("vector(1) > 2", now()) is None


def test_nan_is_returned_as_is(provider: PrometheusProvider) -> None:
    value = provider.query("vector(0) / 0", now())
    assert value is not None
    assert math.isnan(value)


@pytest.mark.parametrize("timeout", [0.25, 2.5, 10])
def test_the_timeout_sent_to_prometheus_may_be_fractional(
    prometheus: PrometheusServer, timeout: float
) -> None:
    with PrometheusProvider(prometheus.url, timeout=timeout) as provider:
        assert provider.query("vector(1)", now()) == 1.0  # "2.5s" would be a bad_data error


def test_the_query_runs_at_the_given_time(provider: PrometheusProvider) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    assert provider.query("time()", at) == at.timestamp()


def test_a_naive_time_is_refused(provider: PrometheusProvider) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        provider.query("1", datetime(2026, 1, 2))


def test_several_series_ask_the_template_to_aggregate(provider: PrometheusProvider) -> None:
    with pytest.raises(MetricQueryError, match=r"2 series.*aggregate.*sum\(\)"):
        provider.query(TWO_SERIES, now())


def test_a_range_vector_is_refused(provider: PrometheusProvider) -> None:
    with pytest.raises(MetricQueryError, match="range vector"):
        provider.query("vector(1)[10s:1s]", now())


def test_a_parse_error_carries_the_prometheus_message(provider: PrometheusProvider) -> None:
    with pytest.raises(MetricQueryError, match=r"^query error: bad_data: .*parse error") as info:
        provider.query("sum(rate(", now())
    assert "unclosed left parenthesis" in str(info.value)
    assert not isinstance(info.value, ProviderUnreachableError)  # the query is at fault


def test_nothing_listening_fails_fast_with_connection_refused() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with (
        PrometheusProvider(address, timeout=5) as provider,
        pytest.raises(ProviderUnreachableError) as info,
    ):
        provider.query("1", now())
    assert str(info.value) == f"Prometheus unreachable at {address}: connection refused"
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_times_out_after_the_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with (
            PrometheusProvider(address, timeout=0.5) as provider,
            pytest.raises(ProviderUnreachableError, match=r"did not answer within 0\.5s"),
        ):
            provider.query("1", now())
    assert time.monotonic() - started < 3  # one attempt: read timeouts are not retried


@pytest.mark.parametrize(
    "address", ["127.0.0.1:9090", "ftp://127.0.0.1", "http://", "http://u:p@127.0.0.1:9090"]
)
def test_a_bad_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="Prometheus address"):
        PrometheusProvider(address)


def test_the_ca_bundle_lives_in_a_private_file_until_close(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ca_cert, _ = make_ca(tmp_path_factory.mktemp("ca"), "ca")
    provider = PrometheusProvider(
        "https://127.0.0.1:1", auth=PrometheusAuth(ca_bundle=ca_cert.read_bytes())
    )
    path = provider.ca_file
    assert path is not None
    assert Path(path).read_bytes() == ca_cert.read_bytes()
    assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    provider.close()
    assert not Path(path).exists()
    provider.close()  # twice is fine
