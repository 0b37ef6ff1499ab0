"""The evidence report: sections, escaping, bounded pairs, thumbnails that decode, the plot."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image

from imagerollout.report.page import SECTIONS, Attempt, attempt_from_rollout, build
from imagerollout.report.pairs import strata
from imagerollout.report.textdiff import marked
from tests.cli.sample import rollout
from tests.report.evidence import HOSTILE, write_evidence


def page(
    tmp_path: Path, per_stratum: int = 6, events: list[dict[str, object]] | None = None
) -> str:
    evidence = write_evidence(tmp_path)
    obj = rollout()
    obj["status"]["analysis"]["evidence"] = str(evidence)
    obj["status"]["analysis"]["snapshot"] = {
        "baseline": {"typographyAccuracy": "1.00", "errors": 0},
        "canary": {"typographyAccuracy": "0.50", "errors": 1},
    }
    return build(attempt_from_rollout(obj, events or []), per_stratum=per_stratum)


def test_every_section_is_there_verdict_first(tmp_path: Path) -> None:
    html = page(tmp_path)
    positions = [html.index(f'id="{section}"') for section in SECTIONS]
    assert positions == sorted(positions)
    assert 'class="verdict Degraded"' in html
    assert "judge: Rollback" in html


def test_user_input_is_escaped_and_no_script_can_run(tmp_path: Path) -> None:
    html = page(tmp_path, events=[{"reason": "X", "message": "<img src=x onerror=alert(1)>"}])
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;prompt&quot;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "AC&lt;b&gt;E" in html or "&lt;b&gt;" in html  # the OCR reading, escaped
    assert "default-src 'none'" in html


def test_pairs_are_bounded_and_discordant_first(tmp_path: Path) -> None:
    html = page(tmp_path, per_stratum=3)
    logos = html[html.index("<h3>logos</h3>") :]
    logos = logos[
        : logos.index('<div class="stratum">') if '<div class="stratum">' in logos else None
    ]
    assert logos.count('<div class="pair">') == 3
    assert logos.count("discordant") >= 3
    assert "only the baseline passed in 5" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) <= 2 * 3 * 2  # two images a pair, three pairs, two strata
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as thumb:
            assert max(thumb.size) <= 192


def test_a_failed_request_shows_its_error(tmp_path: Path) -> None:
    nature = next(v for v in strata(write_evidence(tmp_path), 6) if v.name == "nature")
    assert nature.shown[0].discordant
    assert nature.shown[0].canary.error == "http 500"
    assert nature.shown[0].canary.image is None


def test_the_plot_draws_bounds_and_the_limit(tmp_path: Path) -> None:
    html = page(tmp_path)
    card = html[html.index("<h3>text/logos") :]
    svg = card[card.index("<svg") : card.index("</svg>")]
    assert 'class="band"' in svg
    assert 'class="limit"' in svg
    assert "limit -0.05" in svg
    assert "10 pairs" in svg
    # A passing stratum cell is a table row, not a plot.
    assert "<h3>text/typography" not in html
    assert "<td>text/typography</td>" in html[html.index("<summary>Other strata (1)") :]


def test_without_evidence_the_page_says_so(tmp_path: Path) -> None:
    html = build(Attempt(title="x", verdict="Succeeded", message="", evidence=tmp_path / "gone"))
    assert "No evidence on disk" in html
    assert "is not readable here" in html
    assert "No quality gates" in html


def test_events_unreadable_is_shown() -> None:
    html = build(Attempt(title="x", verdict="Degraded", message="", events_error="HTTP 403"))
    assert "Events unreadable: HTTP 403" in html


def test_differences_are_marked_and_escaped() -> None:
    assert marked("ACME", "ACME") == "ACME"
    assert marked("ACME", "acme") == "acme"
    assert marked("ACME", "AC<b>E") == "AC<del>M</del><ins>&lt;b&gt;</ins>E"
    assert marked("OPEN", "OPEN NOW") == "OPEN<ins> NOW</ins>"
    assert marked("FRESH BREAD", "FRESH\nBREAD") == "FRESH BREAD"
    assert marked("ACME", "qa <=> ACME") == "<ins>qa &lt;=&gt; </ins>ACME"
    assert HOSTILE not in marked(HOSTILE, HOSTILE + "x")
