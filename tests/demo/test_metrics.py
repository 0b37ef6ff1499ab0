"""The demo model server's /metrics: what Prometheus would scrape from a real model server."""

from __future__ import annotations

import pytest

from imagerollout.demo.metrics import ServerMetrics
from tests.demo.test_server import HTTP, TYPOGRAPHY, post, start, stop


def scrape(url: str) -> str:
    response = HTTP.request("GET", f"{url}/metrics")
    assert response.status == 200
    return response.data.decode()


def test_requests_latency_and_errors_by_reason_are_labelled_by_model_and_variant() -> None:
    reason = "decoder_failure:text_artifact_misalignment"
    server = start(
        "--model-name", "v2", "--variant", "canary", "--error-rate", "0.5", "--error-reason", reason
    )  # fmt: skip
    try:
        codes = [
            post(server.url, {"prompt": TYPOGRAPHY.prompt, "seed": s}).status for s in range(20)
        ]
        text = scrape(server.url)
    finally:
        stop(server)
    failed, ok = codes.count(500), codes.count(200)
    assert failed > 0
    assert ok > 0
    labels = 'model="v2",variant="canary"'
    assert f'imagegen_requests_total{{code="200",{labels}}} {float(ok)}' in text
    errors = f'imagegen_errors_total{{model="v2",reason="{reason}",variant="canary"}}'
    assert f"{errors} {float(failed)}" in text
    assert f"imagegen_images_total{{{labels}}} {float(ok)}" in text
    assert f"imagegen_request_duration_seconds_count{{{labels}}} 20.0" in text


def sample(text: str, name: str, labels: str) -> float | None:
    """The value of the sample `name{labels}` in an exposition, None if absent."""
    prefix = f"{name}{{{labels}}} "
    values = [
        float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix)
    ]
    return values[0] if values else None


def test_cost_counts_dollars_per_image_of_each_answered_request() -> None:
    metrics = ServerMetrics("v2", "canary")
    metrics.observe(200, 0.1, 2, None, cost=0.04)
    metrics.observe(200, 0.1, 1, None, cost=0.02)
    metrics.observe(500, 0.1, 0, "server_error")  # no images, no cost
    text = metrics.exposition().decode()
    labels = 'model="v2",variant="canary"'
    assert sample(text, "imagegen_cost_dollars_total", labels) == pytest.approx(0.06)
    assert sample(text, "imagegen_images_total", labels) == 3.0
    assert "# HELP imagegen_cost_dollars_total Cost of generated images, in dollars." in text


def test_the_server_charges_image_cost_times_images() -> None:
    server = start("--model-name", "v2", "--variant", "canary", "--image-cost", "0.02")
    try:
        for seed, n in enumerate((1, 3, 2)):
            response = post(
                server.url, {"prompt": TYPOGRAPHY.prompt, "seed": seed, "n": n, "size": "64x64"}
            )
            assert response.status == 200, response.data
        text = scrape(server.url)
    finally:
        stop(server)
    labels = 'model="v2",variant="canary"'
    assert sample(text, "imagegen_images_total", labels) == 6.0
    assert sample(text, "imagegen_cost_dollars_total", labels) == pytest.approx(6 * 0.02)


def test_without_image_cost_nothing_is_charged() -> None:
    server = start("--model-name", "v1")
    try:
        assert post(server.url, {"prompt": TYPOGRAPHY.prompt, "size": "64x64"}).status == 200
        text = scrape(server.url)
    finally:
        stop(server)
    assert sample(text, "imagegen_cost_dollars_total", 'model="v1",variant="baseline"') is None
    assert sample(text, "imagegen_images_total", 'model="v1",variant="baseline"') == 1.0


@pytest.mark.parametrize("prices", [True, False])
def test_counters_exist_at_zero_before_the_first_request(prices: bool) -> None:
    metrics = ServerMetrics("v1", "primary", error_reasons=("oom",), reports_cost=prices)
    text = metrics.exposition().decode()
    labels = 'model="v1",variant="primary"'
    # increase() needs a sample before the first event, or it loses that event.
    assert f'imagegen_requests_total{{code="500",{labels}}} 0.0' in text
    assert f'imagegen_requests_total{{code="200",{labels}}} 0.0' in text
    assert 'imagegen_errors_total{model="v1",reason="oom",variant="primary"} 0.0' in text
    assert f"imagegen_images_total{{{labels}}} 0.0" in text
    assert (f"imagegen_cost_dollars_total{{{labels}}} 0.0" in text) is prices
