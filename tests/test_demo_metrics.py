"""The demo model server's /metrics: what Prometheus would scrape from a real model server."""

from __future__ import annotations

from tests.test_demo_server import HTTP, TYPOGRAPHY, post, start, stop


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
