"""The evidence report of a rolled-back canary, opened in a real headless Chromium.

A logo regression is rolled back at stage 0 by the real operator. Its page, served on the
operator's metrics port and linked from status.reportURL, must load with every image decoded,
every section present, and the hostile prompt shown as text (no script on the page). A
screenshot goes to artifacts/report.png for a person to look at.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.browser import Browser
from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import REPO_ROOT
from tests.e2e.plugin import imr
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.e2e.test_quality_gates import LOGO_REGRESSION, SUITE, analysis

pytestmark = pytest.mark.e2e
HOSTILE = '<script>alert(1)</script> A round badge logo with the brand name "NOVA"'
SECTIONS = ("verdict", "snapshot", "gates", "pairs", "metrics", "timeline")
ARTIFACTS = REPO_ROOT / "artifacts"


def hostile_suite(tmp_path: Path) -> Path:
    """The small suite, with a prompt a user could write that must never run as HTML."""
    suite = yaml.safe_load(SUITE.read_text())
    logos = next(s for s in suite["strata"] if s["name"] == "logos")
    logos["prompts"][1]["prompt"] = HOSTILE
    logos["weight"] = 4  # half the draws: the logo Fail comes in about half the pairs
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_the_report_of_a_rolled_back_canary_in_chromium(env: RolloutEnv, tmp_path: Path) -> None:
    suite = hostile_suite(tmp_path)
    knobs = [*LOGO_REGRESSION[:-1], str(suite)]  # the canary maps prompts through this suite
    with (
        demo_server(tmp_path, "baseline") as baseline,
        demo_server(tmp_path, "canary", *knobs) as canary,
    ):
        env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={suite}")
        gates = analysis(baseline, canary, tmp_path / "evidence")
        gates["stage0"] = {"samples": 128, "batchSize": 8}
        env.deploy_judged(analysis=gates)
        env.set_model("v2")
        waited = imr(env, "status", NAME, "--timeout", "4m", timeout=300)
    assert waited.returncode == 1, waited  # Degraded
    status = env.status()
    url = status["reportURL"]
    with urllib.request.urlopen(url, timeout=30) as reply:
        served = reply.read().decode()
    assert "<script" not in served

    tree = imr(env, "get", NAME)
    print(f"\n{tree.stdout}")
    assert "text/logos Fail" in tree.stdout, tree
    assert "Report:     " + url in tree.stdout

    written = tmp_path / "report.html"
    assert imr(env, "report", NAME, "-o", str(written)).returncode == 0
    assert 'id="pairs"' in written.read_text()

    with Browser() as browser:
        browser.open(url)
        found = browser.evaluate(
            "JSON.stringify({"
            " images: [...document.images].map(i => [i.complete, i.naturalWidth]),"
            f" sections: {json.dumps(SECTIONS)}.filter(id => !document.getElementById(id)),"
            " scripts: document.scripts.length,"
            " text: document.body.innerText,"
            " svgs: document.querySelectorAll('svg.plot').length})"
        )
        page = json.loads(found)
        browser.screenshot(ARTIFACTS / "report.png")
    assert page["sections"] == [], f"missing sections: {page['sections']}"
    assert page["images"], "no thumbnails"
    assert all(done and width > 0 for done, width in page["images"]), page["images"]
    assert len(page["images"]) <= 2 * 6 * 3, "at most 6 pairs per stratum"
    assert page["scripts"] == 0
    assert HOSTILE.split(" A round")[0] in page["text"], "the prompt is shown as text"
    assert "text/logos" in page["text"]
    assert "GateFailed" in page["text"], "the timeline has the operator's events"
    assert page["svgs"] >= 1
    print(f"\nreport: {url} ({len(served)} bytes, {len(page['images'])} images)")
