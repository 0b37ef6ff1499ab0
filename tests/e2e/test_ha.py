"""Two operator replicas on one Lease: exactly one acts, and a standby takes over.

Both replicas watch the same namespace with a 4 s lease. The leader is SIGKILLed (a node dies)
or SIGTERMed (a rolling upgrade) mid-rollout; the standby resumes from status, and the route
walks every step exactly once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.helpers import Cluster, wait_for
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.rollout_env import NAME, RolloutEnv, timed_steps
from tests.e2e.route_watch import RouteWatch

pytestmark = pytest.mark.e2e
LEASE = "imagerollout"
LEASE_SECONDS = 4
RETRY_SECONDS = LEASE_SECONDS * 2 / 15  # core/leader.py's proportions
WALK = [0, 5, 25, 50, 100, 0]


@dataclass
class Replicas:
    env: RolloutEnv
    by_name: dict[str, OperatorProcess]

    def holder(self) -> str:
        """The replica named in the Lease ("" when released or absent)."""
        found = self.env.cluster.kubectl(
            "-n", self.env.namespace, "get", "lease", LEASE, "-o",
            "jsonpath={.spec.holderIdentity}", check=False,
        )  # fmt: skip
        return found.stdout.split("_")[0] if found.returncode == 0 else ""

    def wait_leader(self, among: set[str], timeout: float) -> str:
        leader: str = wait_for(
            lambda: self.holder() if self.holder() in among else None,
            timeout,
            0.05,
            f"one of {sorted(among)} to hold the Lease",
        )
        return leader


@pytest.fixture
def replicas(cluster: Cluster, crd: None, namespace: str, tmp_path: Path) -> Iterator[Replicas]:
    by_name = {}
    for name in ("replica-a", "replica-b"):
        log_dir = tmp_path / name
        log_dir.mkdir()
        election = {
            "POD_ID": name,
            "IMAGEROLLOUT_LEADER_ELECT": "true",
            "IMAGEROLLOUT_LEASE_NAMESPACE": namespace,
            "IMAGEROLLOUT_LEASE_NAME": LEASE,
            "IMAGEROLLOUT_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        by_name[name] = OperatorProcess(cluster.kubeconfig, namespace, log_dir, election)
    for process in by_name.values():
        process.start()
    try:
        first = next(iter(by_name.values()))
        yield Replicas(RolloutEnv(cluster, namespace, first), by_name)
    finally:
        for process in by_name.values():
            process.stop()


def log_of(process: OperatorProcess) -> str:
    return "\n".join(p.read_text(errors="replace") for p in process.log_dir.glob("*.log"))


def acted(process: OperatorProcess) -> bool:
    """Whether a replica's log shows it changing the route (the reconcile loop logs events)."""
    return "TrafficWeightUpdated" in log_of(process)


def run_with_handover(replicas: Replicas, stop: str) -> tuple[float, OperatorProcess]:
    """Roll out, stop the leader at weight 25 (`kill` or `term`): the seconds to a new holder,
    and the stopped leader."""
    env = replicas.env
    leader = replicas.wait_leader(set(replicas.by_name), LEASE_SECONDS * 3)
    (standby,) = set(replicas.by_name) - {leader}
    env.deploy(timed_steps(5, 25, 50, 100, hold="3s"))
    watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
    try:
        env.set_model("v2")
        wait_for(lambda: env.status().get("canaryWeight") == 25, 60, 0.1, "weight 25")
        assert not acted(replicas.by_name[standby]), "the standby acted while the leader led"
        process = replicas.by_name[leader]
        assert process.proc is not None
        stopped_at = time.monotonic()
        # The signal alone, not the wait for the exit: kopf takes its time to exit after the
        # cleanup handler has released the Lease.
        process.proc.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGTERM)
        replicas.wait_leader({standby}, LEASE_SECONDS * 3)
        took = time.monotonic() - stopped_at
        process.proc.wait(timeout=60)
        env.wait_phase("Succeeded", timeout=120)
    finally:
        watch.stop()
    assert acted(replicas.by_name[standby]), "the new leader never acted"
    assert watch.weights == WALK, watch.seen
    updates = [e["message"] for e in env.events() if e["reason"] == "TrafficWeightUpdated"]
    assert [m.split("%")[0] for m in updates] == [f"canary {w}" for w in WALK[1:]]
    return took, replicas.by_name[leader]


def test_the_standby_takes_over_within_the_lease_when_the_leader_is_sigkilled(
    replicas: Replicas,
) -> None:
    took, _ = run_with_handover(replicas, "kill")
    print(f"SIGKILL -> new holder: {took:.2f} s (lease {LEASE_SECONDS} s)")
    # Expiry is timed from the standby's last sighting of a renewal (at most a retry period
    # before the kill); it then checks every retry period.
    assert took <= LEASE_SECONDS + 2 * RETRY_SECONDS + 0.5


def test_sigterm_releases_the_lease_and_the_standby_takes_over_at_once(
    replicas: Replicas,
) -> None:
    took, stopped = run_with_handover(replicas, "term")
    print(f"SIGTERM -> new holder: {took:.2f} s (lease {LEASE_SECONDS} s)")
    assert "released the lease" in log_of(stopped), log_of(stopped)[-3000:]
    # Without the release, the standby would wait at least D - one retry after the last renewal
    # (and the leader renews until it releases); with it, the drain plus one retry period.
    assert took < LEASE_SECONDS - RETRY_SECONDS
