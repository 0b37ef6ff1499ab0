"""One real Prometheus for the whole test session (it starts in about 0.1 s, but why repeat)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.prometheus_server import PROMETHEUS, PrometheusServer


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    if not PROMETHEUS.exists():
        # Fail, not skip: CI installs the Debian package, so a missing binary is a broken setup.
        pytest.fail(f"{PROMETHEUS} is missing: apt-get install prometheus")
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()
