"""The `kubectl imr get` view: header, steps, gates worst first; icons only on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from imagerollout.cli.render import rollout_rows, rollout_view
from tests.cli.sample import ROLLOUT, rollout


def text(obj: dict[str, object], terminal: bool, observed: int | None = 0) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=160, color_system="standard")
    console.print(rollout_view(obj, observed, fancy=console.is_terminal))
    return out.getvalue()


def test_header_shows_phase_message_step_weights_and_models() -> None:
    shown = text(ROLLOUT, terminal=False, observed=5)
    lines = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in shown.splitlines()[:9]
    }
    assert lines["Phase"] == "Degraded"
    assert lines["Message"] == "gate text/logos failed: canary 55.0 vs baseline 95.0"
    assert lines["Cause"] == (
        "AnalysisFailed: text/logos: canary 0.00 vs baseline 1.00, Fail after 32 pairs"
    )
    assert lines["Step"] == "2/3"
    assert lines["Weight"] == "set 0%  observed 5%"
    assert lines["Stable"].startswith("registry.example/imagegen:v1")
    assert lines["Canary"].startswith("registry.example/imagegen:v3")


def test_gates_are_listed_worst_first_with_their_numbers() -> None:
    shown = text(ROLLOUT, terminal=False)
    order = [shown.index(g) for g in ("text/logos Fail", "latency Inconclusive", "errors Pass")]
    assert order == sorted(order)
    fail = next(line for line in shown.splitlines() if "text/logos Fail" in line)
    assert "pairs 32" in fail
    assert "effect -40.0" in fail
    assert "bounds [-58.1, -21.9]" in fail
    assert "pairs 128/2000  outcome Rollback" in shown


def test_failing_strata_hang_under_their_gate_the_rest_in_one_line() -> None:
    lines = text(ROLLOUT, terminal=False).splitlines()
    names = [
        line.split("── ")[1].split()[0] for line in lines if "── " in line and "bounds" in line
    ]
    assert names[:2] == ["text", "text/logos"]
    assert "text/typography" not in names
    depth = {n: line.index("── ") for n in names for line in lines if f"── {n} " in line}
    assert depth["text/logos"] > depth["text"] == depth["errors"]
    assert any("1 more strata: 1 Pass (--strata lists them)" in line for line in lines)


def test_strata_lists_every_cell() -> None:
    out = io.StringIO()
    Console(file=out, width=160).print(rollout_view(ROLLOUT, 0, fancy=False, all_strata=True))
    assert "text/typography Pass" in out.getvalue()
    assert "more strata" not in out.getvalue()


def test_steps_are_done_current_or_pending() -> None:
    steps = text(ROLLOUT, terminal=False).splitlines()
    assert any("5%  pause 10s  (done)" in line for line in steps)
    assert any("50%  (aborted)" in line for line in steps)
    assert "50%  (current)" in text(rollout(phase="Progressing"), terminal=False)
    assert any("100%  (pending)" in line for line in steps)
    finished = text(rollout(phase="Succeeded"), terminal=False)
    assert "(pending)" not in finished
    assert "(current)" not in finished


def test_prometheus_gates_show_verdict_and_windows() -> None:
    line = next(x for x in text(ROLLOUT, terminal=False).splitlines() if "p95" in x)
    assert "p95 Pass" in line
    assert "windows 2" in line
    assert "requests 60/540" in line


def test_a_terminal_gets_icons_and_colours_a_pipe_plain_text() -> None:
    fancy, plain = text(ROLLOUT, terminal=True), text(ROLLOUT, terminal=False)
    assert "\x1b[" in fancy
    assert "✖" in fancy
    assert "\x1b[" not in plain
    assert "✖" not in plain
    assert "✔" not in plain


def test_unknown_observed_weight_and_missing_status() -> None:
    bare = {"metadata": {"name": "x", "namespace": "n"}, "spec": {"steps": [{"weight": 100}]}}
    shown = text(bare, terminal=False, observed=None)
    assert "observed ?" in shown
    assert "Step:" in shown
    assert "-/1" in shown
    assert "Quality gates" not in shown


def test_list_rows() -> None:
    out = io.StringIO()
    Console(file=out, width=200).print(rollout_rows([ROLLOUT], all_namespaces=True))
    header, row = out.getvalue().splitlines()[:2]
    assert header.split()[:3] == ["NAMESPACE", "NAME", "PHASE"]
    assert row.split()[:5] == ["team-a", "imagegen", "Degraded", "2/3", "0%"]
