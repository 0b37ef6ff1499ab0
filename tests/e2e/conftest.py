"""Fixtures for end-to-end tests: a real control plane on loopback, started once per session.

The cluster is left running after the session (later runs reuse it within seconds);
``scripts/cluster-down.sh`` stops it.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import CRD_FILE, REPO_ROOT, Cluster, wait_for
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.rollout_env import RolloutEnv

CLUSTER_UP = REPO_ROOT / "scripts" / "cluster-up.sh"


def _cache_root() -> Path:
    return Path(os.environ.get("IMAGEROLLOUT_CACHE", REPO_ROOT / ".cache"))


def _run_cluster_up() -> None:
    """Run scripts/cluster-up.sh, echoing its output line by line as it comes."""
    tail: collections.deque[str] = collections.deque(maxlen=60)
    with subprocess.Popen(
        [str(CLUSTER_UP)],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stderr.write(line)
            tail.append(line)
        code = proc.wait()
    if code != 0:
        pytest.fail(f"{CLUSTER_UP} exited {code}:\n{''.join(tail)}", pytrace=False)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    _run_cluster_up()
    kubeconfig = _cache_root() / "cluster" / "kubeconfig"
    assert kubeconfig.is_file(), f"cluster-up.sh did not write {kubeconfig}"
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kubeconfig)
    try:
        yield Cluster(kubeconfig=kubeconfig)
    finally:
        # The cluster itself stays up for the next run; only the environment is restored.
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace, ready for pods (its default ServiceAccount exists); deleted after."""
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    # Pods are rejected until the controller manager has created the default ServiceAccount.
    wait_for(
        lambda: (
            cluster.kubectl("-n", name, "get", "serviceaccount", "default", check=False).returncode
            == 0
        ),
        timeout=60,
        description=f"ServiceAccount {name}/default",
    )
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(CRD_FILE))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/imagemodelrollouts.imagerollout.dev",
    )


@pytest.fixture
def env(cluster: Cluster, crd: None, namespace: str, tmp_path: Path) -> Iterator[RolloutEnv]:
    """The operator as a real process, watching a fresh namespace; loopback demo servers allowed."""
    allow = {"IMAGEROLLOUT_ENDPOINT_ALLOWLIST": "http://127.0.0.1:*"}
    operator = OperatorProcess(cluster.kubeconfig, namespace, tmp_path, allow)
    operator.start()
    try:
        yield RolloutEnv(cluster, namespace, operator)
    finally:
        operator.stop()
