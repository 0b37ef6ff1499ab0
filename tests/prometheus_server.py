"""A real Prometheus (/usr/bin/prometheus) on loopback for tests: 1 s scrapes of file_sd
targets, so a test can register a server and query what was scraped seconds later."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import urllib3
import yaml

PROMETHEUS = Path("/usr/bin/prometheus")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
POLL_S = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def config(targets_dir: Path) -> dict[str, Any]:
    """prometheus.yml: scrape every file_sd target each second, re-read the files each second."""
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "imagegen",
                "file_sd_configs": [
                    {"files": [str(targets_dir / "*.json")], "refresh_interval": "1s"}
                ],
            }
        ],
    }


def _basic_auth_header(credentials: tuple[str, str]) -> dict[str, str]:
    # UTF-8, as Prometheus expects; urllib3.make_headers would encode Latin-1.
    encoded = base64.b64encode(":".join(credentials).encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


class PrometheusServer:
    """One Prometheus process over `workdir`; its TSDB survives stop() and start()."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        web_config: Path | None = None,
        *,
        ca_file: Path | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        """ca_file (https) and basic_auth are what the helper itself needs to pass web_config."""
        if not PROMETHEUS.exists():
            raise RuntimeError(f"{PROMETHEUS} is missing: apt-get install prometheus")
        self.workdir = workdir
        self.port = port or free_port()
        self.web_config = web_config
        self.targets_dir = workdir / "targets"
        self.log_path = workdir / "prometheus.log"
        self._scheme = "https" if ca_file else "http"
        self._headers = _basic_auth_header(basic_auth) if basic_auth else {}
        self._http = urllib3.PoolManager(
            ca_certs=str(ca_file) if ca_file else None,
            retries=False,
            timeout=urllib3.Timeout(total=5),
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [
            str(PROMETHEUS),
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ]
        if self.web_config is not None:
            command.append(f"--web.config.file={self.web_config}")
        return command

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        config_text = yaml.safe_dump(config(self.targets_dir), sort_keys=False)
        (self.workdir / "prometheus.yml").write_text(config_text)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while (answer := self._readiness()) != "HTTP 200":
            if self._process.poll() is not None:
                self._closed_log()
                raise RuntimeError(
                    f"prometheus exited {self._process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                message = f"prometheus not ready after {timeout}s (last answer: {answer})"
                raise RuntimeError(f"{message}:\n{self.log_tail()}")
            time.sleep(POLL_S)

    def _readiness(self) -> str:
        try:
            return f"HTTP {self._get('/-/ready').status}"
        except urllib3.exceptions.HTTPError as err:
            return repr(err)

    def _get(self, path: str, **fields: str) -> urllib3.BaseHTTPResponse:
        return self._http.request("GET", self.url + path, fields=fields, headers=self._headers)

    def stop(self) -> None:
        """SIGTERM and wait, so the head block is flushed and a later start() keeps the data."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self._closed_log()

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._closed_log()

    def _closed_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def add_targets(self, name: str, targets: list[str], labels: dict[str, str]) -> None:
        """Write targets/<name>.json; tmp + rename so Prometheus never reads a half file."""
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        final = self.targets_dir / f"{name}.json"
        tmp = self.targets_dir / f".{name}.json.tmp"  # *.json glob does not match it
        tmp.write_text(json.dumps([{"targets": targets, "labels": labels}]))
        os.replace(tmp, final)

    def remove_targets(self, name: str) -> None:
        (self.targets_dir / f"{name}.json").unlink(missing_ok=True)

    def wait_for_targets_up(self, targets: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            health = self._target_health()
            if all(health.get(t) == "up" for t in targets):
                return
            time.sleep(POLL_S * 2)
        raise AssertionError(f"targets {targets} not all up after {timeout}s: {health}")

    def _target_health(self) -> dict[str, str]:
        body = self._api("/api/v1/targets", state="active")
        return {t["labels"]["instance"]: t["health"] for t in body["activeTargets"]}

    def query(self, promql: str) -> list[Any]:
        """The result list of an instant query at now (raises on an error status)."""
        result: list[Any] = self._api("/api/v1/query", query=promql)["result"]
        return result

    def _api(self, path: str, **fields: str) -> Any:
        response = self._get(path, **fields)
        body = response.json()
        if response.status != 200 or body.get("status") != "success":
            raise AssertionError(f"GET {path} {fields}: HTTP {response.status}: {body}")
        return body["data"]
