"""The operator as a real process (`imagerollout run`), as users run it, killable mid-rollout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.e2e.helpers import REPO_ROOT, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        log_dir: Path,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.args = args
        self.kubeconfig = kubeconfig
        self.extra_env = extra_env or {}
        self.namespace = namespace
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.metrics_port = self.health_port = 0

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process and return at once (wait_ready waits for its liveness)."""
        self.starts += 1
        self.health_port, self.metrics_port = free_port(), free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            **self.extra_env,
        }
        log = (self.log_dir / f"operator-{self.namespace}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imagerollout.cli.main",
                "run",
                "--namespace",
                self.namespace,
                "--liveness",
                f"http://127.0.0.1:{self.health_port}/healthz",
                "--metrics-address",
                f"127.0.0.1:{self.metrics_port}",
                *self.args,
            ],
            cwd=REPO_ROOT,
            env={**env, "PYTHONPATH": str(REPO_ROOT / "operator")},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        assert self.proc is not None
        wait_for(lambda: self._healthy(self.health_port), 60, 0.3, "operator liveness endpoint")
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}; see {self.log_dir}")

    def _healthy(self, port: int) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:  # exited: no point in waiting out the deadline
            return True
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                return int(reply.status) == 200
        except OSError:
            return False

    def scrape(self) -> str:
        """The operator's /metrics page, as Prometheus reads it."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text: str = reply.read().decode()
            return text

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finalizers, as when a node dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
