"""The demo model server, scraped by a real Prometheus, queried through PrometheusProvider:
the request count and the cost per image that metric gates will read."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
import urllib3

from imagerollout.providers.metrics.prometheus import PrometheusProvider
from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import wait_for
from tests.prometheus_server import PrometheusServer

HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=10))
SELECTOR = '{namespace="ns1",service="r-canary"}'
REQUESTS = f"sum(increase(imagegen_requests_total{SELECTOR}[1m]))"
COST_PER_IMAGE = (
    f"sum(rate(imagegen_cost_dollars_total{SELECTOR}[1m]))"
    f" / sum(rate(imagegen_images_total{SELECTOR}[1m]))"
)
BODY = {"prompt": 'A sign that says "OPEN"', "n": 2, "size": "64x64"}


def generate(url: str, seed: int) -> None:
    body = json.dumps({**BODY, "seed": seed}).encode()
    headers = {"Content-Type": "application/json"}
    response = HTTP.request("POST", f"{url}/v1/images/generations", body=body, headers=headers)
    assert response.status == 200, response.data


def measured(url: str, provider: PrometheusProvider, seed: int) -> tuple[float, float] | None:
    """Send one more request (rates need increases between scrapes), then read both queries."""
    generate(url, seed)
    now = datetime.now(UTC)
    requests, cost = provider.query(REQUESTS, now), provider.query(COST_PER_IMAGE, now)
    if requests is None or cost is None or not requests > 0 or math.isnan(cost):
        return None
    return requests, cost


def test_requests_and_cost_per_image_of_a_scraped_demo_server(
    prometheus: PrometheusServer, tmp_path: Path
) -> None:
    knobs = ("--model-name", "m", "--variant", "canary", "--image-cost", "0.02")
    with demo_server(tmp_path, "canary", *knobs) as url:
        target = url.removeprefix("http://")
        prometheus.add_targets("r-canary", [target], {"namespace": "ns1", "service": "r-canary"})
        try:
            prometheus.wait_for_targets_up([target], timeout=20)
            seeds = iter(range(1000))
            with PrometheusProvider(prometheus.url, timeout=5) as provider:
                requests, cost = wait_for(
                    lambda: measured(url, provider, next(seeds)), 30, 0.2, "scraped increases"
                )
        finally:
            prometheus.remove_targets("r-canary")
    assert requests > 0
    assert cost == pytest.approx(0.02, rel=1e-6)
