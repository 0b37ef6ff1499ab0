"""The test helper tests.prometheus_server: targets get scraped, and data survives a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import wait_for
from tests.prometheus_server import PrometheusServer


def samples_of_up(server: PrometheusServer) -> float:
    result = server.query('sum(count_over_time(up{job="imagegen",role="self"}[10m]))')
    return float(result[0]["value"][1]) if result else 0.0


def scraped_twice(server: PrometheusServer) -> float | None:
    samples = samples_of_up(server)
    return samples if samples >= 2 else None


def test_a_target_is_scraped_and_its_data_survives_stop_and_start(tmp_path: Path) -> None:
    server = PrometheusServer(tmp_path)
    server.start()
    try:
        target = server.url.removeprefix("http://")
        server.add_targets("self", [target], {"role": "self"})  # Prometheus scrapes itself
        server.wait_for_targets_up([target], timeout=20)  # ~5 s: the scrape manager's tick
        before = wait_for(lambda: scraped_twice(server), 20, 0.2, "two scrapes")
        server.stop()
        server.start()
        assert samples_of_up(server) >= before
    finally:
        server.stop()
    assert "Server is ready to receive web requests" in server.log_path.read_text()


def test_a_failed_start_reports_the_log(tmp_path: Path) -> None:
    server = PrometheusServer(tmp_path, web_config=tmp_path / "missing-web.yml")
    with pytest.raises(RuntimeError, match="prometheus exited") as info:
        server.start()
    assert "missing-web.yml" in str(info.value)
