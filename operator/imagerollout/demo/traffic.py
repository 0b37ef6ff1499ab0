"""Synthetic user traffic for the demo, split between backends by the traffic provider's weights.

The local cluster has no gateway data plane, so this stands in for it: requests go straight to
the demo model servers on loopback, each one to a backend picked at random by the weights the
route has right now (--route: an HTTPRoute; --rollout: whatever the rollout's trafficRouting
names: an HTTPRoute, a VirtualService or the replica ratio, see demo/provider_weights.py).

    python -m imagerollout.demo.traffic --namespace models --route imagegen \\
        --backend imagegen-primary=http://127.0.0.1:18081 \\
        --backend imagegen-canary=http://127.0.0.1:18082 --rps 20 --duration 60

With `--header x-image-job=typography` every request carries that header and follows the rule
that matches it (the operator's capability rule), as a gateway would route it.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import math
import os
import random
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from imagerollout.api.v1alpha1 import RolloutSpec
from imagerollout.demo import provider_weights
from imagerollout.providers.traffic import gateway_api

if TYPE_CHECKING:  # imported at run time only after --kubeconfig is applied (see main)
    from imagerollout.kube.client import Kube

log = logging.getLogger(__name__)

PROMPTS = (
    'A shop sign that says "OPEN"',
    'A logo with the text "ACME"',
    'A street sign reading "MAIN ST"',
    "A red circle next to a blue square",
)
REQUEST_TIMEOUT = 5.0
MAX_LAG = 1.0  # seconds behind schedule before pacing restarts instead of bursting

Weights = Mapping[str, int]


class RouteNotFoundError(LookupError):
    pass


class TrafficGenerator:
    """Sends `rps` image requests a second, each to a backend drawn by the current weights.

    Counters per backend: `sent` (submitted), `ok` (2xx) and `failed` (any other status, a
    refused connection, a timeout, or the backend already having its share of the workers
    busy). Requests still queued at stop() are cancelled and leave `sent`.
    """

    def __init__(
        self,
        weights: Callable[[], Weights],
        backends: Mapping[str, str],
        rps: float,
        seed: int | None = None,
        refresh: float = 0.5,
        workers: int = 8,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if rps <= 0:
            raise ValueError(f"rps must be > 0, got {rps}")
        self._weights_source = weights
        self._headers = dict(headers or {})
        self._backends = {name: url.rstrip("/") for name, url in backends.items()}
        self._interval = 1.0 / rps
        self._refresh = refresh
        self._rng = random.Random(seed)
        self._weights: dict[str, int] = {}
        self._weights_error: str | None = None
        self._counts = {name: {"sent": 0, "ok": 0, "failed": 0} for name in self._backends}
        self._pending = dict.fromkeys(self._backends, 0)
        # A slow backend may hold half the workers at most, so the other keeps its share.
        self._max_pending = max(1, workers // 2)
        self._lock = threading.Lock()
        self._futures: set[Future[bool]] = set()
        self._requests = itertools.count()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="demo-traffic")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pacing, cancel queued requests and wait for those in flight, within timeout."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            futures = set(self._futures)
        _, not_done = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        if not_done or self._thread.is_alive():
            log.warning("traffic generator: %d requests still running at stop", len(not_done))

    def __enter__(self) -> TrafficGenerator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(c) for name, c in self._counts.items()}

    # ------------------------------------------------------------ pacing thread

    def _run(self) -> None:
        next_refresh = next_send = time.monotonic()
        while not self._stop.wait(max(0.0, next_send - time.monotonic())):
            now = time.monotonic()
            if now >= next_refresh:
                self._refresh_weights()
                next_refresh = now + self._refresh
            self._send_one()
            next_send += self._interval
            if now - next_send > MAX_LAG:
                next_send = now

    def _refresh_weights(self) -> None:
        try:
            fresh = dict(self._weights_source())
        except Exception as error:  # any source failure: keep sending by the last good weights
            if self._weights_error is None:
                log.warning("cannot read weights, keeping %s: %s", self._weights, error)
            self._weights_error = str(error)
            return
        if self._weights_error is not None:
            log.info("weights readable again: %s", fresh)
        self._weights_error = None
        self._weights = fresh

    def _pick(self) -> str | None:
        choices = [(n, w) for n, w in self._weights.items() if w > 0 and n in self._backends]
        if not choices:
            return None
        names = [name for name, _ in choices]
        return self._rng.choices(names, weights=[w for _, w in choices])[0]

    def _send_one(self) -> None:
        name = self._pick()
        if name is None:
            return
        with self._lock:
            self._counts[name]["sent"] += 1
            if self._pending[name] >= self._max_pending:
                self._counts[name]["failed"] += 1  # the backend is not keeping up: shed
                return
            self._pending[name] += 1
        index = next(self._requests)
        try:
            future = self._pool.submit(self._request, name, index)
        except RuntimeError:  # the pool shut down between the stop check and here
            self._finish(name, sent=-1)
            return
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(lambda f: self._done(name, f))

    # ------------------------------------------------------------ workers

    def _request(self, name: str, index: int) -> bool:
        prompt = PROMPTS[index % len(PROMPTS)]
        return post_generation(self._backends[name], prompt, index, self._headers)

    def _done(self, name: str, future: Future[bool]) -> None:
        with self._lock:
            self._futures.discard(future)
        if future.cancelled():
            self._finish(name, sent=-1)
        elif future.exception() is not None:  # a bug, not a backend failure: make it visible
            log.error("request to %s raised", name, exc_info=future.exception())
            self._finish(name, failed=1)
        elif future.result():
            self._finish(name, ok=1)
        else:
            self._finish(name, failed=1)

    def _finish(self, name: str, sent: int = 0, ok: int = 0, failed: int = 0) -> None:
        with self._lock:
            counts = self._counts[name]
            counts["sent"] += sent
            counts["ok"] += ok
            counts["failed"] += failed
            self._pending[name] -= 1


def post_generation(
    base_url: str, prompt: str, seed: int, headers: Mapping[str, str] | None = None
) -> bool:
    """One small OpenAI Images request; True on a 2xx answer, False on any failure."""
    body = {"prompt": prompt, "n": 1, "size": "64x64", "seed": seed % 2**32}
    request = urllib.request.Request(
        f"{base_url}/v1/images/generations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            response.read()
            return 200 <= int(response.status) < 300
    except (OSError, http.client.HTTPException) as error:  # HTTPError, refused, timed out
        log.debug("request to %s failed: %s", base_url, error)
        return False


# ---------------------------------------------------------------- the HTTPRoute's weights


def weights_from_route(
    route: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Sum backendRef weights by name over the rules a request with `headers` would match;
    an unset weight is 1 (Gateway API). As in Gateway API, rules that match more of the
    request's headers win: a request without headers never takes a header-matched rule."""
    rules = route.get("spec", {}).get("rules") or []
    matched = [(r, _header_matches(r, headers or {})) for r in rules]
    best = max((n for _, n in matched if n is not None), default=0)
    totals: dict[str, int] = {}
    for rule in (r for r, n in matched if n == best):
        for ref in rule.get("backendRefs") or []:
            weight = ref.get("weight")
            totals[ref["name"]] = totals.get(ref["name"], 0) + (1 if weight is None else weight)
    return totals


def _header_matches(rule: Mapping[str, Any], headers: Mapping[str, str]) -> int | None:
    """How many header matches of the rule the request satisfies; None: it matches no entry."""
    best: int | None = None
    for match in rule.get("matches") or [{}]:
        wanted = {h["name"].lower(): h["value"] for h in match.get("headers") or []}
        given = {name.lower(): value for name, value in headers.items()}
        if all(given.get(name) == value for name, value in wanted.items()):
            best = max(best or 0, len(wanted))
    return best


def route_weights(
    kube: Kube, namespace: str, route: str, headers: Mapping[str, str] | None = None
) -> dict[str, int]:
    obj = kube.get_object(gateway_api.API_VERSION, gateway_api.PLURAL, namespace, route)
    if obj is None:
        raise RouteNotFoundError(f"HTTPRoute {namespace}/{route} not found")
    return weights_from_route(obj, headers)


def rollout_weights(
    kube: Kube, namespace: str, rollout: str, headers: Mapping[str, str] | None = None
) -> Callable[[], dict[str, int]]:
    """A reader of the weights of whichever provider the rollout's trafficRouting names
    (`headers` pick a capability's HTTPRoute rule or VirtualService route)."""
    found = kube.get_object("imagerollout.dev/v1alpha1", "imagemodelrollouts", namespace, rollout)
    if found is None:
        raise RouteNotFoundError(f"ImageModelRollout {namespace}/{rollout} not found")
    spec = RolloutSpec.model_validate(found["spec"])
    routing = spec.traffic_routing
    if routing.istio is not None:
        name = routing.istio.virtual_service.name
        return lambda: provider_weights.virtual_service_weights(kube, namespace, name, headers)
    if routing.replicas is not None:
        target = spec.target_ref.name
        return lambda: provider_weights.pod_weights(kube, namespace, rollout, target)
    for on_route in (routing.gateway_api, routing.inference_pool):  # pools are backendRefs too
        if on_route is not None:
            route = on_route.http_route.name
            return lambda: route_weights(kube, namespace, route, headers)
    raise RouteNotFoundError(f"ImageModelRollout {namespace}/{rollout} names no traffic provider")


# ---------------------------------------------------------------- command line


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_backend(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected NAME=http://HOST:PORT, got {text!r}")
    return name, url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imagerollout.demo.traffic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--namespace", required=True, help="namespace of the HTTPRoute")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--route", help="split by this HTTPRoute's backendRef weights")
    source.add_argument(
        "--rollout",
        help="split by the weights of this rollout's traffic provider (HTTPRoute, "
        "VirtualService, or the replica ratio)",
    )
    parser.add_argument(
        "--backend",
        type=parse_backend,
        action="append",
        required=True,
        help="NAME=URL: a backendRef name and the base URL serving it (repeat)",
    )
    parser.add_argument(
        "--header",
        type=parse_header,
        action="append",
        default=[],
        help="NAME=VALUE: a header every request carries; it follows the rule matching it",
    )
    parser.add_argument("--rps", type=float, default=20.0, help="requests a second in total")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the backend draws")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (else KUBECONFIG)")
    return parser


def summary(counts: Mapping[str, Mapping[str, int]], elapsed: float) -> str:
    parts = [
        f"{name} sent={c['sent']} ok={c['ok']} failed={c['failed']}"
        for name, c in sorted(counts.items())
    ]
    return f"[{elapsed:6.1f}s] " + " | ".join(parts)


def _run_until_stopped(generator: TrafficGenerator, duration: float | None) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    started = time.monotonic()
    end = math.inf if duration is None else started + duration
    with generator:
        while not stop.wait(min(5.0, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end:
                break
            print(summary(generator.counts(), time.monotonic() - started), flush=True)
    print(summary(generator.counts(), time.monotonic() - started), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.kubeconfig:
        # The kubernetes client reads KUBECONFIG when first imported, hence the late import.
        os.environ["KUBECONFIG"] = args.kubeconfig
    from imagerollout.kube.client import Kube, load_config

    load_config()
    kube = Kube()

    def from_route() -> dict[str, int]:
        return route_weights(kube, args.namespace, args.route, dict(args.header))

    try:
        headers = dict(args.header)
        if args.rollout:
            read = rollout_weights(kube, args.namespace, args.rollout, headers)
        else:
            read = from_route
        weights = read()  # fail fast on a wrong name
    except RouteNotFoundError as error:
        print(f"demo traffic: {error}", file=sys.stderr)
        return 1
    backends = dict(args.backend)
    if unknown := sorted(set(weights) - set(backends)):
        log.warning("no --backend for %s: traffic is split among the others", ", ".join(unknown))
    generator = TrafficGenerator(read, backends, args.rps, seed=args.seed, headers=headers)
    _run_until_stopped(generator, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
