"""Helpers for end-to-end tests against the local control plane (scripts/cluster-up.sh)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECTL = "/usr/bin/kubectl"
CRD_FILE = REPO_ROOT / "crds" / "imagemodelrollouts.imagerollout.dev.yaml"

T = TypeVar("T")


class KubectlError(RuntimeError):
    """kubectl exited non-zero; the message carries the command, exit code and stderr."""


def kubectl(
    kubeconfig: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl --kubeconfig=<kubeconfig> *args`` and capture its output as text."""
    cmd = [KUBECTL, f"--kubeconfig={kubeconfig}", *args]
    proc = subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise KubectlError(
            f"{' '.join(cmd[1:])!s} exited {proc.returncode}\n"
            f"stdout: {proc.stdout.strip()}\nstderr: {proc.stderr.strip()}"
        )
    return proc


@dataclass(frozen=True)
class Cluster:
    """The running local cluster: its admin kubeconfig and a bound kubectl."""

    kubeconfig: Path

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, *args, input=input, check=check)

    def get_json(self, *args: str) -> dict[str, Any]:
        """``kubectl get <args> -o json`` parsed."""
        result: dict[str, Any] = json.loads(self.kubectl("get", *args, "-o", "json").stdout)
        return result


class WaitTimeoutError(AssertionError):
    """A wait_for predicate did not become truthy in time."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.5,
    description: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Exceptions raised by the predicate count as "not yet"; the last one (and the last falsy
    value) is reported in the WaitTimeoutError message so a failing test says what it saw.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"timed out after {timeout:g}s waiting for {description}; last: {last!r}"
            )
        time.sleep(interval)
