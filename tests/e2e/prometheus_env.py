"""A rollout judged on production traffic: demo model servers for both arms, a real Prometheus
scraping them, and synthetic users split by the HTTPRoute's current weights."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import config

from imagerollout.demo.traffic import TrafficGenerator, route_weights
from imagerollout.kube.client import Kube
from tests.e2e.demo_servers import demo_server
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.e2e.route_watch import RouteWatch
from tests.prometheus_server import PrometheusServer

PRIMARY, CANARY = f"{NAME}-primary", f"{NAME}-canary"
USERS_RPS = 40.0


def metrics_spec(prometheus_url: str, **overrides: Any) -> dict[str, Any]:
    """Short windows and small counts, so a test runs in about a minute."""
    return {
        "provider": {"prometheus": {"address": prometheus_url, "timeout": "5s"}},
        "interval": "5s",
        "minWindows": 2,
        "staleAfter": "30s",
        "gates": [
            {"name": "error-rate", "template": "ErrorRate", "minCount": 5},
            {"name": "decoder-failures", "template": "DecoderFailures", "minCount": 5},
            {
                "name": "slow-requests",
                "template": "SlowRequests",
                "args": {"le": "0.25"},
                "minCount": 5,
            },
            {
                "name": "latency-p95",
                "template": "LatencyP95",
                "maxDegradation": "0.2",
                "minCount": 5,
            },
        ],
        **overrides,
    }


@dataclass
class TrafficRollout:
    env: RolloutEnv
    prometheus: PrometheusServer
    traffic: TrafficGenerator
    stack: ExitStack
    targets: dict[str, str]  # service -> host:port Prometheus scrapes

    def labels(self, service: str) -> dict[str, str]:
        """The target labels a ServiceMonitor gives; the built-in queries select them."""
        return {"namespace": self.env.namespace, "service": service}

    def deploy(self, metrics: dict[str, Any]) -> RouteWatch:
        return deploy_with_metrics(self.env, metrics, self.stack)


def deploy_with_metrics(env: RolloutEnv, metrics: dict[str, Any], stack: ExitStack) -> RouteWatch:
    """Apply the demo and the rollout; watch the route's weights from Initialized on."""
    env.deploy_judged(metrics=metrics)
    watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
    stack.callback(watch.stop)
    return watch


@contextmanager
def traffic_rollout(
    env: RolloutEnv,
    tmp_path: Path,
    baseline_knobs: tuple[str, ...],
    canary_knobs: tuple[str, ...],
    **prometheus_options: Any,
) -> Iterator[TrafficRollout]:
    """Servers, Prometheus scraping them with the labels a ServiceMonitor gives, and users.

    prometheus_options go to PrometheusServer (web_config, ca_file, basic_auth)."""
    with ExitStack() as stack:
        baseline = stack.enter_context(demo_server(tmp_path, "baseline", *baseline_knobs))
        canary = stack.enter_context(demo_server(tmp_path, "canary", *canary_knobs))
        (tmp_path / "prometheus").mkdir(exist_ok=True)
        prometheus = PrometheusServer(tmp_path / "prometheus", **prometheus_options)
        prometheus.start()
        stack.callback(prometheus.stop)
        targets = {s: u.removeprefix("http://") for s, u in ((PRIMARY, baseline), (CANARY, canary))}
        for service, target in targets.items():
            labels = {"namespace": env.namespace, "service": service}
            prometheus.add_targets(service, [target], labels)
        prometheus.wait_for_targets_up(list(targets.values()), timeout=30)
        kube = Kube(config.new_client_from_config(str(env.cluster.kubeconfig)))  # type: ignore[no-untyped-call]
        traffic = TrafficGenerator(
            lambda: route_weights(kube, env.namespace, NAME),
            {PRIMARY: baseline, CANARY: canary},
            rps=USERS_RPS,
            seed=7,
        )
        yield TrafficRollout(env, prometheus, traffic, stack, targets)
