"""Synthetic user traffic against real demo servers, split by weights the test controls."""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from imagerollout.demo.traffic import (
    RouteNotFoundError,
    TrafficGenerator,
    parse_backend,
    route_weights,
    summary,
    weights_from_route,
)
from imagerollout.kube.client import Kube
from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import wait_for
from tests.e2e.operator_process import free_port

RPS = 40.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two healthy demo servers, one answering HTTP 500 to everything, one taking 3 s."""
    logs: Path = tmp_path_factory.mktemp("demo-traffic")
    with (
        demo_server(logs, "a", "--model-name", "a") as a,
        demo_server(logs, "b", "--model-name", "b") as b,
        demo_server(logs, "broken", "--error-rate", "1") as broken,
        demo_server(logs, "slow", "--latency-ms", "3000") as slow,
    ):
        yield {"a": a, "b": b, "broken": broken, "slow": slow}


class Weights:
    """A weights source the test changes mid-run, counting calls and failing on demand."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = weights
        self.fail = False
        self.calls = 0
        self.failures = 0
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, int]:
        with self._lock:
            self.calls += 1
            if self.fail:
                self.failures += 1
                raise ConnectionError("API server unreachable")
            return dict(self.weights)

    def set(self, weights: dict[str, int]) -> None:
        with self._lock:
            self.weights = weights

    def failing(self) -> None:
        with self._lock:
            self.fail = True


def sent(generator: TrafficGenerator, name: str) -> int:
    return generator.counts()[name]["sent"]


def counts_once(generator: TrafficGenerator, name: str) -> dict[str, dict[str, int]] | None:
    """All counts, read together, once `name` has been sent a request; else None."""
    counts = generator.counts()
    return counts if counts[name]["sent"] >= 1 else None


def test_share_follows_the_weights_at_the_target_rate(servers: dict[str, str]) -> None:
    total, share = 320, 0.05
    # Enough workers that a loaded machine's slower renders are not shed as "busy" (failed).
    backends = {"a": servers["a"], "b": servers["b"]}
    generator = TrafficGenerator(Weights({"a": 95, "b": 5}), backends, RPS, seed=7, workers=32)
    started = time.monotonic()
    with generator:
        wait_for(
            lambda: sum(c["sent"] for c in generator.counts().values()) >= total,
            timeout=4 * total / RPS,  # generous: a loaded 2-core machine lags
            interval=0.05,
            description=f"{total} requests sent",
        )
        elapsed = time.monotonic() - started
        counts = generator.counts()
        # Paced, not bursted: no faster than the target rate (one request is sent at t=0).
        assert elapsed >= (total - 1) / RPS * 0.95, f"{total} requests in {elapsed:.2f}s"
        wait_for(lambda: all(c["ok"] == c["sent"] for c in generator.counts().values()), 10)
    n = sum(c["sent"] for c in counts.values())
    bound = 5 * math.sqrt(n * share * (1 - share))  # 5 standard deviations of Binomial(n, 5%)
    assert abs(counts["b"]["sent"] - n * share) <= bound, counts
    assert counts["a"]["failed"] == counts["b"]["failed"] == 0


def test_new_weights_send_everything_new_to_the_canary(servers: dict[str, str]) -> None:
    weights = Weights({"a": 100, "b": 0})
    generator = TrafficGenerator(weights, {"a": servers["a"], "b": servers["b"]}, RPS, seed=1)
    with generator:
        wait_for(lambda: sent(generator, "a") >= 20, 10, 0.05, "traffic to a")
        assert sent(generator, "b") == 0
        weights.set({"a": 0, "b": 100})
        # Once b gets one request the new weights are in use: a's count is final.
        switched = wait_for(lambda: counts_once(generator, "b"), 10, 0.05, "traffic to b")
        wait_for(lambda: sent(generator, "b") >= 40, 10, 0.05, "40 requests to b")
        assert sent(generator, "a") == switched["a"]["sent"]


def test_all_weights_zero_sends_nothing(servers: dict[str, str]) -> None:
    weights = Weights({"a": 0, "b": 0})
    generator = TrafficGenerator(weights, {"a": servers["a"], "b": servers["b"]}, RPS, refresh=0.05)
    with generator:
        wait_for(lambda: weights.calls >= 5, 10, 0.05, "five weight refreshes")
    assert generator.counts() == {
        "a": {"sent": 0, "ok": 0, "failed": 0},
        "b": {"sent": 0, "ok": 0, "failed": 0},
    }


def test_unknown_backends_get_nothing(servers: dict[str, str]) -> None:
    weights = Weights({"elsewhere": 100})
    with TrafficGenerator(weights, {"a": servers["a"]}, RPS, refresh=0.05) as generator:
        wait_for(lambda: weights.calls >= 5, 10, 0.05, "five weight refreshes")
    assert generator.counts() == {"a": {"sent": 0, "ok": 0, "failed": 0}}


def test_failing_backends_are_counted_and_traffic_goes_on(servers: dict[str, str]) -> None:
    backends = {
        "a": servers["a"],
        "broken": servers["broken"],
        "dead": f"http://127.0.0.1:{free_port()}",  # nothing listens there
    }
    weights = Weights(dict.fromkeys(backends, 1))
    with TrafficGenerator(weights, backends, RPS, seed=3) as generator:
        wait_for(
            lambda: (
                all(c["failed"] >= 10 for n, c in generator.counts().items() if n != "a")
                and generator.counts()["a"]["ok"] >= 10
            ),
            20,
            0.05,
            "failures from broken and dead, successes from a",
        )
        assert generator.is_running()
    counts = generator.counts()
    assert counts["broken"]["ok"] == counts["dead"]["ok"] == 0, counts
    assert counts["a"]["failed"] == 0, counts


def test_a_slow_backend_does_not_throttle_the_other(servers: dict[str, str]) -> None:
    backends = {"a": servers["a"], "slow": servers["slow"]}
    weights = Weights({"a": 1, "slow": 1})
    # 8 workers, at most 4 per backend: a's 4 keep up with its 20 rps even when a loaded
    # machine renders slowly, while without the cap 3 s replies from slow would hold all 8.
    with TrafficGenerator(weights, backends, RPS, seed=5, workers=8) as generator:
        # a's half of 40 rps gives 40 answers in 2 s; queued behind 3 s replies it would not.
        wait_for(lambda: generator.counts()["a"]["ok"] >= 40, 10, 0.05, "40 answers from a")
        counts = generator.counts()
    assert counts["slow"]["failed"] >= 10, counts  # shed: it never had more than 4 workers
    assert counts["a"]["failed"] == 0, counts


def test_weights_that_cannot_be_read_keep_the_last_ones(servers: dict[str, str]) -> None:
    weights = Weights({"a": 0, "b": 100})
    generator = TrafficGenerator(weights, {"a": servers["a"], "b": servers["b"]}, RPS, refresh=0.05)
    with generator:
        wait_for(lambda: sent(generator, "b") >= 5, 10, 0.05, "traffic to b")
        weights.failing()
        wait_for(lambda: weights.failures >= 3, 10, 0.05, "three failed refreshes")
        before = sent(generator, "b")
        wait_for(lambda: sent(generator, "b") >= before + 20, 10, 0.05, "more traffic to b")
    assert sent(generator, "a") == 0


def test_stop_returns_within_its_deadline(servers: dict[str, str]) -> None:
    generator = TrafficGenerator(Weights({"a": 1}), {"a": servers["a"]}, RPS)
    generator.start()
    wait_for(lambda: sent(generator, "a") >= 5, 10, 0.05, "traffic to a")
    started = time.monotonic()
    generator.stop(timeout=5)
    assert time.monotonic() - started < 5
    assert not generator.is_running()
    after = sent(generator, "a")
    assert generator.counts()["a"]["ok"] + generator.counts()["a"]["failed"] == after


# ---------------------------------------------------------------- the route's weights


def route(*rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"spec": {"rules": [{"backendRefs": refs} for refs in rules]}}


def test_weights_sum_by_backend_name_across_rules() -> None:
    doc = route(
        [{"name": "m-primary", "port": 80, "weight": 75}, {"name": "m-canary", "weight": 25}],
        [{"name": "m-primary", "weight": 75}, {"name": "m-canary", "weight": 25}],
        [{"name": "other"}],
    )
    assert weights_from_route(doc) == {"m-primary": 150, "m-canary": 50, "other": 1}


def test_an_unset_weight_is_one_and_zero_stays_zero() -> None:
    doc = route([{"name": "a"}, {"name": "b", "weight": 0}])
    assert weights_from_route(doc) == {"a": 1, "b": 0}


def test_a_route_without_rules_or_backends_has_no_weights() -> None:
    assert weights_from_route({"spec": {}}) == {}
    assert weights_from_route({"spec": {"rules": [{"matches": []}]}}) == {}


class NoRoutes:
    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        assert (api_version, plural) == ("gateway.networking.k8s.io/v1", "httproutes")
        return None


def test_a_missing_route_is_a_clear_error() -> None:
    with pytest.raises(RouteNotFoundError, match="HTTPRoute models/imagegen not found"):
        route_weights(cast(Kube, NoRoutes()), "models", "imagegen")


# ---------------------------------------------------------------- command line


def test_backend_arguments() -> None:
    assert parse_backend("m-canary=http://127.0.0.1:8080") == ("m-canary", "http://127.0.0.1:8080")
    for bad in ("m-canary", "=http://x", "m=127.0.0.1:8080"):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME=http"):
            parse_backend(bad)


def test_summary_line() -> None:
    counts = {"b": {"sent": 5, "ok": 4, "failed": 1}, "a": {"sent": 95, "ok": 95, "failed": 0}}
    assert summary(counts, 5.0) == ("[   5.0s] a sent=95 ok=95 failed=0 | b sent=5 ok=4 failed=1")
