"""The report page: verdict and snapshot first, then gates, pairs, Prometheus windows, events.

Everything that came from a user (prompts, expected text, OCR readings, messages, names) is
escaped, and the page's Content-Security-Policy allows no script at all, so a prompt such as
`<script>` is shown as text and could not run even if an escape were missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from imagerollout.core.quality.cells import cell_gate, stratum_cell
from imagerollout.core.rollout.conditions import cause
from imagerollout.quality.evidence import read_trajectory
from imagerollout.report.pairs import ArmView, PairView, StratumView, strata
from imagerollout.report.plot import Point, svg
from imagerollout.report.textdiff import marked

Object = dict[str, Any]
PAIRS_PER_STRATUM = 6
WORST_FIRST = {"Fail": 0, "Inconclusive": 1, "Pass": 2}
SECTIONS = ("verdict", "snapshot", "gates", "pairs", "metrics", "timeline")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Attempt:
    """What one rollout attempt's page shows, from a rollout's status or a judge run."""

    title: str
    verdict: str  # the phase or the judge's outcome
    message: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    analysis: Object | None = None  # status.analysis (camelCase JSON)
    metrics: Object | None = None  # status.metrics
    events: list[Object] = field(default_factory=list)
    events_error: str | None = None
    evidence: Path | None = None


def attempt_from_rollout(
    rollout: Object, events: list[Object], events_error: str | None = None
) -> Attempt:
    meta, status = rollout["metadata"], rollout.get("status") or {}
    analysis = status.get("analysis")
    evidence = (analysis or {}).get("evidence")
    steps = len((rollout.get("spec") or {}).get("steps") or [])
    index = status.get("currentStepIndex")
    facts = [
        ("cause", cause(status) or "-"),
        ("stable", (status.get("stable") or {}).get("model", "-")),
        ("canary", (status.get("canary") or {}).get("model", "-")),
        ("step", f"{min(index + 1, steps)}/{steps}" if index is not None else f"-/{steps}"),
        ("canary weight", f"{status.get('canaryWeight', 0)}%"),
        ("rollout started", status.get("rolloutStartedAt") or "-"),
    ]
    return Attempt(
        title=f"{meta.get('namespace', '')}/{meta['name']}",
        verdict=status.get("phase") or "Unknown",
        message=status.get("message") or "",
        facts=facts,
        analysis=analysis,
        metrics=status.get("metrics"),
        events=events,
        events_error=events_error,
        evidence=Path(evidence) if evidence else None,
    )


def build(
    attempt: Attempt, per_stratum: int = PAIRS_PER_STRATUM, now: datetime | None = None
) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    evidence = attempt.evidence if attempt.evidence and attempt.evidence.is_dir() else None
    body = [
        _verdict(attempt, moment),
        _snapshot(attempt.analysis),
        _gates(attempt.analysis, evidence),
        _pairs(evidence, attempt.evidence, per_stratum),
        _metrics(attempt.metrics),
        _timeline(attempt.events, attempt.events_error),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{escape(attempt.title)}: {escape(attempt.verdict)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _verdict(attempt: Attempt, moment: str) -> str:
    outcome = (attempt.analysis or {}).get("outcome")
    facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in attempt.facts)
    return (
        f'<section id="verdict"><h1>{escape(attempt.title)}</h1>'
        f'<p class="verdict {_cls(attempt.verdict)}">{escape(attempt.verdict)}'
        + (f" &middot; judge: {escape(outcome)}" if outcome else "")
        + f'</p><p class="message">{escape(attempt.message)}</p>'
        f'<dl>{facts}</dl><p class="small">report written {escape(moment)}</p></section>'
    )


def _snapshot(analysis: Object | None) -> str:
    snap = (analysis or {}).get("snapshot")
    if not snap:
        return '<section id="snapshot"><h2>Before / after</h2><p>No pairs judged.</p></section>'
    rows = [
        ("typography accuracy", "typographyAccuracy"),
        ("latency (s)", "latencySeconds"),
        ("cost per image", "costPerImage"),
        ("errors", "errors"),
        ("error rate", "errorRate"),
    ]
    base, canary = snap.get("baseline") or {}, snap.get("canary") or {}
    body = "".join(
        f"<tr><th>{label}</th><td>{_v(base.get(key))}</td><td>{_v(canary.get(key))}</td></tr>"
        for label, key in rows
    )
    bounds = [
        f"<li>{label}: {_v(snap.get(key))}</li>"
        for label, key in (
            ("typography effect bounds", "typographyEffectBounds"),
            ("latency effect bounds", "latencyEffectBounds"),
        )
        if snap.get(key)
    ]
    return (
        '<section id="snapshot"><h2>Before / after</h2><table>'
        f"<tr><th></th><th>baseline</th><th>canary</th></tr>{body}</table>"
        f"<ul>{''.join(bounds)}</ul></section>"
    )


def _gates(analysis: Object | None, evidence: Path | None) -> str:
    """Each gate worst first with its plot; a stratum's cell gets a plot of its own only when
    it fails (it names the regression); the other cells are one table row each."""
    groups: dict[str, list[Object]] = {}
    for gate in (analysis or {}).get("gates") or []:
        groups.setdefault(cell_gate(str(gate["gate"])), []).append(gate)
    if not groups:
        return '<section id="gates"><h2>Quality gates</h2><p>No quality gates.</p></section>'
    tracks = _trajectories(evidence)
    cards, others = [], []
    for cells in sorted(groups.values(), key=lambda c: min(_rank(g) for g in c)):
        cells.sort(key=lambda g: (stratum_cell(str(g["gate"])), _rank(g)))
        for gate in cells:
            if stratum_cell(str(gate["gate"])) and gate["verdict"] != "Fail":
                others.append(gate)
            else:
                cards.append(_gate_card(gate, tracks))
    rows = "".join(
        f"<tr><td>{_v(g['gate'])}</td><td class='{_cls(g['verdict'])}'>{_v(g['verdict'])}</td>"
        f"<td>{_v(g['samples'])}</td><td>{_v(g['effect'])}</td>"
        f"<td>[{_v(g['lower'])}, {_v(g['upper'])}]</td></tr>"
        for g in others
    )
    table = (  # folded: what on-call needs first is above it
        f"<details><summary>Other strata ({len(others)}), not failing</summary><table>"
        "<tr><th>gate/stratum</th><th>verdict</th><th>pairs</th><th>effect</th><th>bounds</th>"
        f"</tr>{rows}</table></details>"
        if others
        else ""
    )
    return (
        '<section id="gates"><h2>Quality gates, worst first</h2>'
        "<p class='small'>Shaded: the anytime-valid bounds on canary - baseline after each "
        "batch; line: the estimate; dashed: the limit past which the gate fails.</p>"
        f"{''.join(cards)}{table}</section>"
    )


def _gate_card(gate: Object, tracks: dict[str, tuple[list[Point], float | None]]) -> str:
    name = str(gate["gate"])
    points = tracks.get(name, ([], None))
    if not points[0]:  # no trajectory on disk: the bounds now, as one point
        points = ([_point(gate)], None)
    return (
        f'<div class="gate {_cls(gate["verdict"])}"><h3>{escape(name)} '
        f'<span class="tag">{escape(gate["verdict"])}</span></h3>'
        f"<p>pairs {_v(gate['samples'])} &middot; baseline {_v(gate['baseline'])} "
        f"&middot; canary {_v(gate['canary'])} &middot; effect {_v(gate['effect'])} "
        f"&middot; bounds [{_v(gate['lower'])}, {_v(gate['upper'])}]</p>"
        f"{svg(f'{name}: bounds on the effect against pairs', *points)}</div>"
    )


def _rank(gate: Object) -> int:
    return WORST_FIRST.get(str(gate.get("verdict")), 1)


def _trajectories(evidence: Path | None) -> dict[str, tuple[list[Point], float | None]]:
    tracks: dict[str, tuple[list[Point], float | None]] = {}
    for row in read_trajectory(evidence) if evidence else []:
        try:
            samples, lower, upper, effect = (
                row[k] for k in ("samples", "lower", "upper", "effect")
            )
            point = Point(
                int(str(samples)), float(str(lower)), float(str(upper)), float(str(effect))
            )
            limit = float(str(row["limit"])) if row.get("limit") is not None else None
        except (KeyError, ValueError):
            continue
        if point.samples > 0:  # before its first pair a cell's bounds are the whole range
            tracks.setdefault(str(row["gate"]), ([], limit))[0].append(point)
    return tracks


def _point(gate: Object) -> Point:
    try:
        return Point(
            int(gate["samples"]), float(gate["lower"]), float(gate["upper"]), float(gate["effect"])
        )
    except (KeyError, ValueError):
        return Point(0, 0.0, 0.0, 0.0)


def _pairs(evidence: Path | None, pointer: Path | None, per_stratum: int) -> str:
    head = '<section id="pairs"><h2>Pairs that moved the verdict</h2>'
    if evidence is None:
        where = f" ({escape(str(pointer))} is not readable here)" if pointer else ""
        return f"{head}<p>No evidence on disk{where}.</p></section>"
    views = strata(evidence, per_stratum)
    if not views:
        return f"{head}<p>No pairs stored yet.</p></section>"
    return head + "".join(_stratum(v) for v in views) + "</section>"


def _stratum(view: StratumView) -> str:
    pairs = "".join(_pair(p) for p in view.shown)
    return (
        f'<div class="stratum"><h3>{escape(view.name)}</h3>'
        f"<p>{view.pairs} pairs; only the baseline passed in {view.baseline_only}, only the "
        f"canary in {view.canary_only}. Showing {len(view.shown)}, discordant first.</p>"
        f"{pairs}</div>"
    )


def _pair(pair: PairView) -> str:
    expected = (
        f"<p>expected text: <code>{escape(pair.expected)}</code></p>" if pair.expected else ""
    )
    tag = '<span class="tag Fail">discordant</span> ' if pair.discordant else ""
    return (
        f'<div class="pair"><p>{tag}#{pair.index} seed {_v(pair.seed)}: '
        f'<span class="prompt">{escape(pair.prompt)}</span></p>{expected}'
        f'<div class="arms">{_arm("baseline", pair.baseline, pair.expected)}'
        f"{_arm('canary', pair.canary, pair.expected)}</div></div>"
    )


def _arm(label: str, arm: ArmView, expected: str | None) -> str:
    image = (
        f'<img src="{arm.image}" alt="{label} image">'
        if arm.image
        else f'<div class="noimage">{escape(arm.error or "no image")}</div>'
    )
    if expected and arm.reading is not None:
        verdict = "read" if arm.passed else "misread"
        reading = f"<p>OCR ({verdict}): <code>{marked(expected, arm.reading)}</code></p>"
    else:
        reading = ""
    latency = f"<p class='small'>{arm.latency:.2f} s</p>" if arm.latency is not None else ""
    return f'<figure class="arm"><figcaption>{label}</figcaption>{image}{reading}{latency}</figure>'


def _metrics(metrics: Object | None) -> str:
    gates = (metrics or {}).get("gates") or []
    if not gates:
        return (
            '<section id="metrics"><h2>Prometheus windows</h2>'
            "<p>No production-traffic gates.</p></section>"
        )
    columns = ("gate", "verdict", "windows", "canary", "baseline", "bound", "requests", "reason")
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_v(value)}</td>"
            for value in (
                g.get("gate"),
                g.get("verdict"),
                g.get("windows"),
                g.get("canary"),
                g.get("baseline"),
                g.get("bound"),
                f"{g.get('canaryCount')}/{g.get('baselineCount')}",
                g.get("reason"),
            )
        )
        + "</tr>"
        for g in sorted(gates, key=_rank)
    )
    header = "".join(f"<th>{c}</th>" for c in columns)
    window = metrics.get("windowSeconds") if metrics else None
    return (
        '<section id="metrics"><h2>Prometheus windows</h2>'
        f"<p>{_v((metrics or {}).get('evaluations', 0))} evaluations, latest window "
        f"{_v(window)} s, ending {_v((metrics or {}).get('lastEvaluation'))}.</p>"
        f"<table><tr>{header}</tr>{rows}</table></section>"
    )


def _timeline(events: Sequence[Object], error: str | None) -> str:
    head = '<section id="timeline"><h2>Timeline</h2>'
    if error:
        return f"{head}<p class='Fail'>Events unreadable: {escape(error)}</p></section>"
    if not events:
        return f"{head}<p>No events.</p></section>"
    rows = "".join(
        f"<tr class='{_cls(e.get('type', ''))}'><td class='when'>{_v(_when(e))}</td>"
        f"<td>{_v(e.get('reason'))}</td><td>{_v(e.get('message'))}</td></tr>"
        for e in events
    )
    header = "<tr><th>time</th><th>reason</th><th>message</th></tr>"
    return f"{head}<table>{header}{rows}</table></section>"


def _when(event: Object) -> str:
    return str(event.get("eventTime") or event.get("lastTimestamp") or "")[:19].replace("T", " ")


def _v(value: object) -> str:
    return "-" if value is None or value == "" else escape(str(value))


def _cls(word: str) -> str:
    """A CSS class from a verdict or phase: letters only, so nothing can break out."""
    return "".join(c for c in str(word) if c.isalpha())


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{margin:0 0 4px}h2{border-bottom:1px solid #ccc;margin-top:28px}h3{margin:12px 0 4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
.verdict{font-size:22px;font-weight:700}.small{color:#666;font-size:12px}
.Degraded,.Fail,.Rollback,.Warning{color:#b00020}.Succeeded,.Pass,.Promote{color:#1b7f2a}
.Inconclusive,.Paused{color:#a66b00}.tag{border:1px solid;border-radius:4px;padding:0 4px;
font-size:12px}.gate{display:inline-block;vertical-align:top;margin:0 16px 16px 0;width:520px}
.gate p{color:#222;margin:2px 0}.plot{background:#fafafa;border:1px solid #eee}
.plot .band{fill:#9ec5fe;opacity:.6}.plot .effect{fill:none;stroke:#0b5ed7;stroke-width:1.5}
.plot line.limit{stroke:#b00020;stroke-dasharray:5 3}.plot line.zero{stroke:#999;
stroke-dasharray:1 3}.plot text{font-size:10px;fill:#555}.plot text.limit{fill:#b00020}
.pair{border-top:1px solid #eee;padding:8px 0;display:inline-block;vertical-align:top;
width:520px;margin-right:16px}.arms{display:flex;gap:16px}
.arm{margin:0}.arm img{width:192px;height:auto;border:1px solid #ccc;display:block}
.noimage{width:192px;height:96px;background:#fee;color:#b00020;padding:4px}
figcaption{font-weight:600}code{background:#f4f4f4;padding:0 3px}
del{background:#fdd;text-decoration:line-through}ins{background:#dfd;text-decoration:none}
.prompt{font-style:italic}summary{cursor:pointer;margin:8px 0}.when{white-space:nowrap}
"""
