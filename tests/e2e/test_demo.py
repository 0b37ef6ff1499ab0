"""`make demo`'s parts run end to end: scripts/demo.sh --only PART on the real control plane, its
own operator, demo model servers and synthetic users; what it prints is checked, and so is what
it leaves on the cluster.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.helpers import REPO_ROOT, Cluster

pytestmark = pytest.mark.e2e
DEMO_SH = REPO_ROOT / "scripts" / "demo.sh"
FALLBACK = "imagegen-fallback-typography"
BACKENDS = ("imagegen-primary", "imagegen-canary", FALLBACK)
Counts = dict[str, dict[str, int]]


def test_the_capability_part_pins_typography_and_splits_users_by_header(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    out = run_demo("capabilities", namespace, tmp_path)

    pinned = re.search(r"^Message: +(promoted except typography .*)$", out, re.MULTILINE)
    assert pinned is not None, f"kubectl imr get prints the pinned promotion:\n{out}"
    message = pinned[1]
    assert re.fullmatch(
        r"promoted except typography \(text/logos failed: canary 0\.\d\d vs baseline \S+\); "
        r"typography jobs stay on registry\.example/imagegen:v1",
        message,
    ), message
    assert "imagerollout-typography" in out, "the route's managed rule is shown"
    jobs, general = users(out, "x-image-job: typography"), users(out, "no header (general)")
    assert jobs[FALLBACK]["ok"] >= 40, jobs
    assert jobs["imagegen-primary"]["sent"] == jobs["imagegen-canary"]["sent"] == 0, jobs
    assert general["imagegen-primary"]["ok"] >= 40, general
    assert general[FALLBACK]["sent"] == general["imagegen-canary"]["sent"] == 0, general

    # What it printed is what the cluster holds.
    status = cluster.get_json("-n", namespace, "imr", "imagegen")["status"]
    assert (status["phase"], status["message"]) == ("Succeeded", message)
    assert status["stable"]["model"] == "registry.example/imagegen:v7"
    rule = cluster.get_json("-n", namespace, "httproute", "imagegen")["spec"]["rules"][0]
    assert rule["name"] == "imagerollout-typography"
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [(FALLBACK, 100)]
    fallback = cluster.get_json("-n", namespace, "deployment", FALLBACK)
    image = fallback["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example/imagegen:v1"


def test_the_istio_part_walks_the_virtual_service_and_splits_users_by_it(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    out = run_demo("istio", namespace, tmp_path)

    assert "route images: imagegen-primary=80 imagegen-canary=20" in out, out
    # 20% of the users, within about three standard deviations.
    assert 0.05 <= canary_share(out) <= 0.4, out
    route = cluster.get_json("-n", namespace, "virtualservice", "imagegen")["spec"]["http"][0]
    assert [d["weight"] for d in route["route"]] == [100, 0]
    assert cluster.get_json("-n", namespace, "imr", "imagegen")["status"]["phase"] == "Succeeded"


def test_the_replicas_part_splits_users_by_the_ready_pods(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    out = run_demo("replicas", namespace, tmp_path)

    assert "3 canary of 10 pods is 30%, 5 points above the step's 25%" in out, out
    assert 0.1 <= canary_share(out) <= 0.55, out  # 3 of 10 pods
    status = cluster.get_json("-n", namespace, "imr", "imagegen")["status"]
    # The promotion's message outlives the primary growing back to 10 pods.
    assert (status["phase"], status["message"]) == (
        "Succeeded",
        "promoted registry.example/imagegen:v2",
    )
    primary = cluster.get_json("-n", namespace, "deployment", "imagegen-primary")
    assert primary["status"]["availableReplicas"] == 10


def run_demo(part: str, namespace: str, logs: Path, timeout: float = 600) -> str:
    """Run the part; its own process group, so a timeout stops everything it started."""
    base = free_port_base()
    env = {
        **os.environ,
        "IMAGEROLLOUT_DEMO_NAMESPACE": namespace,
        "IMAGEROLLOUT_DEMO_PORT_BASE": str(base),
        "IMAGEROLLOUT_DEMO_METRICS_PORT": str(base + 9),
        "IMAGEROLLOUT_DEMO_LOGS": str(logs),
    }
    with subprocess.Popen(
        [str(DEMO_SH), "--only", part],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate()
            pytest.fail(f"demo.sh --only {part} took over {timeout}s:\n{out}\n{_logs(logs)}")
    assert proc.returncode == 0, f"demo.sh exited {proc.returncode}:\n{out}\n{_logs(logs)}"
    return out


def users(out: str, label: str) -> Counts:
    """The counts of the traffic line that starts with label: {backend: {sent, ok, failed}}."""
    line = next((s for s in out.splitlines() if s.startswith(label)), None)
    assert line is not None, f"no line {label!r} in:\n{out}"
    found = re.findall(r"(\S+) sent=(\d+) ok=(\d+) failed=(\d+)", line)
    counts = {name: {"sent": int(s), "ok": int(o), "failed": int(f)} for name, s, o, f in found}
    assert set(counts) == set(BACKENDS), line
    return counts


def canary_share(out: str) -> float:
    """The canary's share of the users on the part's one traffic line (two backends)."""
    split = re.search(r"imagegen-canary sent=(\d+) .* imagegen-primary sent=(\d+)", out)
    assert split is not None, out
    canary, primary = int(split[1]), int(split[2])
    assert canary + primary >= 40, out
    return canary / (canary + primary)


def free_port_base() -> int:
    """A multiple of 10 whose next ten ports are free on loopback (the demo uses base+1..+9)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1] // 10 * 10
        if base >= 20000 and all(_free(port) for port in range(base + 1, base + 10)):
            return base
    raise AssertionError("no ten free ports in a row on 127.0.0.1")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _logs(logs: Path) -> str:
    """The tails of the logs the demo wrote, for a failure's message."""
    tails = [
        f"--- {path.name} (tail)\n" + "\n".join(path.read_text().splitlines()[-40:])
        for path in sorted(logs.glob("*.log"))
    ]
    return "\n".join(tails)
