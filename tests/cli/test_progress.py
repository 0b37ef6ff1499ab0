"""`imagerollout judge`'s progress: a live bar on a terminal, one plain line per batch in CI."""

from __future__ import annotations

import io

from rich.console import Console

from imagerollout.cli.progress import LineProgress, LiveProgress, progress_for
from imagerollout.core.judge import GateResult, Outcome, Verdict


def result(gate: str, verdict: Verdict) -> GateResult:
    return GateResult(gate, verdict, 40, 1.0, 0.5, -0.5, -0.7, -0.2, "")


RESULTS = [
    result("text", Verdict.FAIL),
    result("text/logos", Verdict.FAIL),
    result("text/typography", Verdict.PASS),
    result("errors", Verdict.INCONCLUSIVE),
]


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = progress_for(out, 200)
    assert isinstance(progress, LineProgress)
    progress.update(16, (0, 1), Outcome.CONTINUE, RESULTS[:1])
    progress.update(40, (0, 1), Outcome.ROLLBACK, RESULTS)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == ("pairs 16/200  errors baseline 0 canary 1  judge: Continue  text=Fail")
    assert lines[1].endswith("text=Fail text/logos=Fail errors=Inconclusive")
    assert "text/typography" not in lines[1], "a passing stratum cell is not news"
    assert "\x1b" not in out.getvalue()
    assert "\r" not in out.getvalue()


def test_a_live_bar_with_the_verdicts_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system="standard")
    progress = LiveProgress(console, 200)
    progress.update(40, (0, 1), Outcome.ROLLBACK, RESULTS)
    progress.close()
    shown = out.getvalue()
    assert "\x1b[" in shown  # redrawn in place, with colour
    assert "judge: Rollback" in shown
    assert "40/200" in shown
    assert "text/logos" in shown
    assert "Fail" in shown
    assert "errors: baseline 0, canary 1" in shown
