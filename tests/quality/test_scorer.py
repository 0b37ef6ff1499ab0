"""Scoring pairs in-process, over HTTP on several endpoints, and across endpoint failures."""

from __future__ import annotations

import json
import urllib.request

import pytest
from PIL import Image

from imagerollout.quality.scorer import (
    InProcessScorer,
    PairJob,
    result_from_json,
    result_to_json,
)
from imagerollout.quality.scorer_client import RemoteScorer, ScorerUnavailableError, encode_job
from tests.e2e.helpers import wait_for
from tests.quality.render import render_scene
from tests.quality.scorer_servers import FakeOcr, scorer_app


def jobs(n: int) -> list[PairJob]:
    return [
        PairJob(render_scene(f"OPEN {i}", seed=i), render_scene(f"OPEN {i}", seed=i + 1), "OPEN")
        for i in range(n)
    ]


def test_in_process_scores_both_arms_and_the_pair() -> None:
    (result,) = InProcessScorer(FakeOcr()).score(jobs(1))
    assert result.baseline is not None
    assert result.canary is not None
    assert result.baseline.text is not None
    assert result.baseline.text.text == "OPEN"
    assert result.ssim is not None
    assert result.phash is not None


def test_a_missing_image_scores_that_arm_as_none_and_no_pair_metric() -> None:
    image = render_scene("OPEN", seed=1)
    (result,) = InProcessScorer(FakeOcr()).score([PairJob(image, None, None)])
    assert result.canary is None
    assert result.baseline is not None
    assert result.baseline.text is None  # no expected text: no OCR
    assert (result.ssim, result.phash) == (None, None)


def test_the_wire_format_round_trips() -> None:
    (result,) = InProcessScorer(FakeOcr()).score(jobs(1))
    assert result_from_json(json.loads(json.dumps(result_to_json(result)))) == result


def test_remote_scores_equal_in_process_and_spread_over_the_endpoints() -> None:
    batch = jobs(6)
    expected = InProcessScorer(FakeOcr()).score(batch)
    with scorer_app() as a, scorer_app() as b:
        remote = RemoteScorer(lambda: [a.url, b.url])
        assert remote.score(batch) == expected
        assert remote.score(batch[:1]) == expected[:1]
        remote.close()
        counted = [a.scorer.pairs._value.get(), b.scorer.pairs._value.get()]
    assert sum(counted) == 7
    assert min(counted) >= 3, f"one endpoint took nearly everything: {counted}"


def test_a_dead_endpoint_is_retried_on_another_and_no_pair_is_lost() -> None:
    batch = jobs(4)
    expected = InProcessScorer(FakeOcr()).score(batch)
    with scorer_app() as alive:
        with scorer_app() as dead:
            gone = dead.url
        remote = RemoteScorer(lambda: [alive.url, gone], pause_s=0.01)
        assert remote.score(batch) == expected
        assert remote.retries >= 1
        assert alive.scorer.pairs._value.get() == 4
        remote.close()


def test_no_endpoint_at_all_raises_instead_of_scoring() -> None:
    remote = RemoteScorer(lambda: [], give_up_s=0.2, pause_s=0.05)
    with pytest.raises(ScorerUnavailableError, match="no ready scorer endpoint"):
        remote.score(jobs(1))
    remote.close()


def test_the_server_refuses_bad_input_with_the_reason() -> None:
    with scorer_app() as running:
        for body, reason in (
            (b"[]", "JSON object"),
            (json.dumps({"baseline": "not base64!"}).encode(), "not an image"),
            (json.dumps({"expectedText": 3}).encode(), "expectedText"),
            (json.dumps({"ocrEngine": "easyocr"}).encode(), "'easyocr'"),
        ):
            request = urllib.request.Request(running.url + "/v1/score", data=body, method="POST")
            with pytest.raises(urllib.request.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 400
            assert reason in refused.value.read().decode()
        huge = PairJob(Image.new("RGB", (5000, 5000)), None, None)
        request = urllib.request.Request(
            running.url + "/v1/score", data=encode_job(huge), method="POST"
        )
        with pytest.raises(urllib.request.HTTPError, match="400"):
            urllib.request.urlopen(request, timeout=30)


def test_the_scorer_reads_with_the_engine_the_rollout_names() -> None:
    with scorer_app(default_engine="rapidocr") as running:
        RemoteScorer(lambda: [running.url], ocr_engine="tesseract").score(jobs(2))
        assert running.engines["tesseract"].images == 4
        wait_for(lambda: running.scorer.ready, 10, description="the scorer warmed up")
        warmed = running.engines["rapidocr"].images  # the readiness warm-up uses the default
        RemoteScorer(lambda: [running.url]).score(jobs(1))  # no engine named: the default
        assert running.engines["rapidocr"].images == warmed + 2
