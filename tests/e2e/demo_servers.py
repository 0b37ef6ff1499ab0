"""Demo model servers (OpenAI Images API) as real processes on loopback."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.helpers import REPO_ROOT, wait_for
from tests.e2e.operator_process import free_port


@contextmanager
def demo_server(log_dir: Path, name: str, *knobs: str) -> Iterator[str]:
    """Start `python -m imagerollout.demo.server` with knobs; yield its base URL."""
    port = free_port()
    log = (log_dir / f"demo-{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagerollout.demo.server", "--port", str(port), *knobs],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT / "operator"), "PATH": "/usr/bin:/bin"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"demo server {name} exited {proc.returncode}; see {log_dir}")
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return int(response.status) == 200

    try:
        wait_for(healthy, 30, 0.2, f"demo server {name}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
