"""`kubectl imr` run as users run it: real kubectl finds the package's kubectl-imr on PATH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.e2e.helpers import KUBECTL, REPO_ROOT
from tests.e2e.rollout_env import RolloutEnv

PLUGIN = REPO_ROOT / ".venv" / "bin" / "kubectl-imr"


def plugin_env(env: RolloutEnv) -> dict[str, str]:
    assert PLUGIN.is_file(), f"{PLUGIN} missing: scripts/install-deps.sh installs the package"
    return {
        **os.environ,
        "KUBECONFIG": str(env.cluster.kubeconfig),
        "PATH": f"{PLUGIN.parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT / "operator"),
    }


def imr(env: RolloutEnv, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "imr", *args, "-n", env.namespace],
        env=plugin_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def imr_background(env: RolloutEnv, out: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [KUBECTL, "imr", *args, "-n", env.namespace],
        env=plugin_env(env),
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )
