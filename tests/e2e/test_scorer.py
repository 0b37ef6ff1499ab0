"""Scoring that scales out: two `imagerollout scorer` processes behind a Service's EndpointSlices
share a judged rollout's images; killing one mid-rollout loses no sample.

The API server refuses loopback addresses (127.0.0.0/8) in EndpointSlices, so the scorers
listen on this host's first non-loopback address (`hostname -I`). There is no kubelet: the
slices are written here, and the dead scorer stays listed as ready, so the operator meets
refused connections and must retry on the other endpoint.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import REPO_ROOT, Cluster, wait_for
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.e2e.route_watch import RouteWatch
from tests.e2e.test_quality_gates import analysis, deploy_with_analysis

pytestmark = pytest.mark.e2e
SERVICE = "scorer"


def host_address() -> str:
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True)
    addresses = [a for a in found.stdout.split() if "." in a and not a.startswith("127.")]
    if not addresses:
        pytest.skip("no non-loopback IPv4 address for EndpointSlices")
    return addresses[0]


@dataclass
class ScorerProcess:
    proc: subprocess.Popen[bytes]
    address: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def pairs(self) -> float:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as reply:
            text = reply.read().decode()
        (line,) = [x for x in text.splitlines() if x.startswith("imagerollout_scorer_pairs_total")]
        return float(line.split()[-1])


@contextmanager
def scorer(log_dir: Path, name: str, address: str) -> Iterator[ScorerProcess]:
    with socket.socket() as sock:
        sock.bind((address, 0))
        port = int(sock.getsockname()[1])
    log = (log_dir / f"scorer-{name}.log").open("wb")
    command = [sys.executable, "-m", "imagerollout.cli.main", "scorer"]
    proc = subprocess.Popen(
        [*command, "--address", f"{address}:{port}", "--ocr-workers", "1"],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT / "operator"), "PATH": "/usr/bin:/bin"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = ScorerProcess(proc, address, port)

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"scorer {name} exited {proc.returncode}; see {log_dir}")
        with urllib.request.urlopen(f"{running.url}/readyz", timeout=2) as reply:
            return int(reply.status) == 200

    try:
        wait_for(ready, 60, 0.2, f"scorer {name} ready")
        yield running
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def publish(cluster: Cluster, namespace: str, scorers: list[ScorerProcess]) -> None:
    """A Service without a selector and one EndpointSlice per scorer (their ports differ)."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE},
        "spec": {"ports": [{"name": "http", "port": 8090}]},
    }
    slices = [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{SERVICE}-{i}",
                "labels": {"kubernetes.io/service-name": SERVICE},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": s.port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [s.address], "conditions": {"ready": True}}],
        }
        for i, s in enumerate(scorers)
    ]
    cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all([service, *slices])
    )


def test_two_scorers_share_a_judged_rollout_and_losing_one_loses_no_sample(
    cluster: Cluster, crd: None, namespace: str, tmp_path: Path
) -> None:
    address = host_address()
    with (
        scorer(tmp_path, "a", address) as a,
        scorer(tmp_path, "b", address) as b,
        demo_server(tmp_path, "baseline") as baseline,
        demo_server(tmp_path, "canary") as canary,
    ):
        publish(cluster, namespace, [a, b])
        settings = {
            "IMAGEROLLOUT_ENDPOINT_ALLOWLIST": "http://127.0.0.1:*",
            "IMAGEROLLOUT_SCORER_SERVICE": f"{namespace}/{SERVICE}:http",
        }
        operator = OperatorProcess(cluster.kubeconfig, namespace, tmp_path, settings)
        operator.start()
        env = RolloutEnv(cluster, namespace, operator)
        try:
            stage0 = {"samples": 24, "batchSize": 4}
            gates = analysis(baseline, canary, tmp_path / "evidence", stage0=stage0)
            deploy_with_analysis(env, gates)
            watch = RouteWatch(cluster.kubeconfig, namespace, NAME)
            env.set_model("v2")
            wait_for(lambda: a.pairs() >= 3 and b.pairs() >= 3, 180, 0.2, "both scorers used")
            a.proc.kill()  # mid stage 0; its slice still says ready
            status = env.wait_phase("Succeeded", timeout=400)
            watch.stop()
        finally:
            operator.stop()
        scored_by_b = b.pairs()
    state = json.loads(status["analysis"]["state"])
    samples = status["analysis"]["samples"]
    assert samples >= 24
    assert (state["baseline_errors"], state["canary_errors"]) == (0, 0), "a scorer error counted"
    assert {g["verdict"] for g in status["analysis"]["gates"]} == {"Pass"}
    assert watch.weights == [0, 5, 25, 50, 100, 0]
    assert scored_by_b >= samples - 8, "the survivor did not take over the scoring"
    # One record per pair, numbered without gaps or repeats, both arms each.
    evidence = Path(status["analysis"]["evidence"])
    canary_numbers = sorted(int(p.name.split("-")[0]) for p in evidence.glob("*-canary.json"))
    baseline_numbers = sorted(int(p.name.split("-")[0]) for p in evidence.glob("*-baseline.json"))
    assert canary_numbers == baseline_numbers == list(range(len(canary_numbers)))
    batch = stage0["batchSize"]
    assert samples <= len(canary_numbers) <= samples + batch  # the last batch may outrun status
    log = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("operator-*.log"))
    assert "trying the next endpoint" in log, "no request to the dead scorer was retried"
