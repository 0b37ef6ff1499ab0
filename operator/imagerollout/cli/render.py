"""`kubectl imr get`: a rollout as a header and a tree of steps and gates (rich).

On a terminal verdicts get icons and colours; piped, the same text comes out plain, so
`kubectl imr get x | grep Fail` works and CI logs stay readable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from imagerollout.core.quality.cells import cell_gate, stratum_cell
from imagerollout.core.rollout.conditions import cause

Object = dict[str, Any]

# (icon, style) per verdict or phase; piped output shows the word alone.
LOOK: dict[str, tuple[str, str]] = {
    "Pass": ("✔", "green"),
    "Fail": ("✖", "bold red"),
    "Inconclusive": ("?", "yellow"),
    "Succeeded": ("✔", "green"),
    "Degraded": ("✖", "bold red"),
    "Paused": ("‖", "yellow"),
    "Progressing": ("◌", "cyan"),
    "Promoting": ("◌", "cyan"),
    "Initializing": ("○", "dim"),
    "Initialized": ("○", "dim"),
    "done": ("✔", "green"),
    "current": ("▶", "bold cyan"),
    "aborted": ("✖", "red"),
    "pending": ("·", "dim"),
}
WORST_FIRST = {"Fail": 0, "Inconclusive": 1, "Pass": 2}


@dataclass(frozen=True)
class Style:
    fancy: bool  # icons and colours (a terminal)
    all_strata: bool = False  # every stratum cell, not only failing ones

    def word(self, word: str, text: str | None = None) -> Text:
        icon, style = LOOK.get(word, ("", ""))
        shown = text if text is not None else word
        if not self.fancy:
            return Text(shown)
        return Text(f"{icon} {shown}" if icon else shown, style=style)


def rollout_view(
    rollout: Object, observed_weight: int | None, fancy: bool, all_strata: bool = False
) -> RenderableType:
    style = Style(fancy, all_strata)
    return Group(header(rollout, observed_weight, style), Text(""), tree(rollout, style))


def header(rollout: Object, observed_weight: int | None, style: Style) -> Text:
    meta, status = rollout["metadata"], _status(rollout)
    phase = status.get("phase") or "Unknown"
    observed = "?" if observed_weight is None else f"{observed_weight}%"
    rows: list[tuple[str, Text | str]] = [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace", "")),
        ("Phase", style.word(phase)),
        ("Message", status.get("message") or ""),
    ]
    why = cause(status)
    if why:
        rows.append(("Cause", why))
    rows += [
        ("Step", step_of(rollout)),
        ("Weight", f"set {status.get('canaryWeight', 0)}%  observed {observed}"),
        ("Stable", _arm(status.get("stable"))),
        ("Canary", _arm(status.get("canary"))),
    ]
    if status.get("reportURL"):
        rows.append(("Report", status["reportURL"]))
    lines = Text()
    for label, value in rows:
        lines.append(f"{label + ':':<12}", style="bold" if style.fancy else "")
        lines.append(value)
        lines.append("\n")
    lines.rstrip()
    return lines


def step_of(rollout: Object) -> str:
    """Step "2/4" for the second of four; "-/4" before the first (promotion runs past the end)."""
    total = len((rollout.get("spec") or {}).get("steps") or [])
    index = _status(rollout).get("currentStepIndex")
    return f"{min(index + 1, total)}/{total}" if index is not None else f"-/{total}"


def tree(rollout: Object, style: Style) -> Tree:
    status = _status(rollout)
    root = Tree(Text(rollout["metadata"]["name"], style="bold" if style.fancy else ""))
    _steps(root.add("Steps"), rollout, style)
    analysis = status.get("analysis")
    if analysis:
        _quality_gates(root, analysis, style)
    metrics = status.get("metrics")
    if metrics:
        _metric_gates(root, metrics, style)
    return root


def _steps(branch: Tree, rollout: Object, style: Style) -> None:
    status = _status(rollout)
    index = status.get("currentStepIndex")
    finished = status.get("phase") == "Succeeded"
    for i, step in enumerate((rollout.get("spec") or {}).get("steps") or []):
        if finished or (index is not None and i < index):
            state = "done"
        elif i == index:
            state = "aborted" if status.get("phase") == "Degraded" else "current"
        else:
            state = "pending"
        pause = (step.get("pause") or {}).get("duration", "manual") if "pause" in step else None
        text = f"{step['weight']}%" + (f"  pause {pause}" if pause else "")
        branch.add(_line(style.word(state, text), "" if style.fancy else f"  ({state})"))


def _quality_gates(root: Tree, analysis: Object, style: Style) -> None:
    samples, limit = analysis.get("samples", 0), analysis.get("maxSamples", 0)
    outcome = analysis.get("outcome") or "-"
    branch = root.add(f"Quality gates  pairs {samples}/{limit}  outcome {outcome}")
    heads: dict[str, list[Object]] = {}  # each gate, then its stratum cells
    for gate in analysis.get("gates") or []:
        heads.setdefault(cell_gate(gate["gate"]), []).append(gate)
    for cells in sorted(heads.values(), key=lambda c: min(_rank(g) for g in c)):
        own = [g for g in cells if not stratum_cell(g["gate"])]
        strata = sorted((g for g in cells if stratum_cell(g["gate"])), key=_rank)
        node = branch.add(_gate_line(own[0], style)) if own else branch
        shown = [g for g in strata if style.all_strata or g["verdict"] == "Fail"]
        for gate in shown:
            node.add(_gate_line(gate, style))
        hidden = Counter(g["verdict"] for g in strata if g not in shown)
        if hidden:  # the regression is named by its failing strata; the rest in one line
            counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(hidden.items()))
            node.add(f"{sum(hidden.values())} more strata: {counts} (--strata lists them)")
    if not heads:
        branch.add("no pairs judged yet")


def _gate_line(gate: Object, style: Style) -> Text:
    numbers = (
        f"  pairs {gate['samples']}  baseline {gate['baseline']}  canary {gate['canary']}"
        f"  effect {gate['effect']}  bounds [{gate['lower']}, {gate['upper']}]"
    )
    return _line(style.word(gate["verdict"], f"{gate['gate']} {gate['verdict']}"), numbers)


def _rank(gate: Object) -> int:
    return WORST_FIRST.get(gate["verdict"], 1)


def _metric_gates(root: Tree, metrics: Object, style: Style) -> None:
    window = metrics.get("windowSeconds")
    title = f"Prometheus gates  evaluations {metrics.get('evaluations', 0)}"
    branch = root.add(title + (f"  window {window}s" if window else ""))
    gates = sorted(metrics.get("gates") or [], key=_rank)
    for gate in gates:
        parts = [f"windows {gate.get('windows', 0)}"]
        parts += [f"{k} {gate[k]}" for k in ("canary", "baseline", "bound") if gate.get(k)]
        if gate.get("canaryCount") is not None:
            parts.append(f"requests {gate['canaryCount']}/{gate.get('baselineCount')}")
        if gate.get("reason"):
            parts.append(gate["reason"])
        label = f"{gate['gate']} {gate['verdict'] or 'pending'}"
        branch.add(_line(style.word(gate["verdict"], label), "  " + "  ".join(parts)))
    if not gates:
        branch.add("no window judged yet")


def rollout_rows(rollouts: Iterable[Object], all_namespaces: bool) -> Table:
    """`kubectl imr list`: one line per rollout."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["NAMESPACE"] if all_namespaces else []
    for column in [*columns, "NAME", "PHASE", "STEP", "WEIGHT", "CANARY", "MESSAGE"]:
        table.add_column(column, no_wrap=column != "MESSAGE", overflow="fold")
    for rollout in rollouts:
        status, meta = _status(rollout), rollout["metadata"]
        row = [meta.get("namespace", "")] if all_namespaces else []
        row += [
            meta["name"],
            status.get("phase") or "",
            step_of(rollout),
            f"{status.get('canaryWeight', 0)}%",
            (status.get("canary") or {}).get("model", ""),
            status.get("message") or "",
        ]
        table.add_row(*row)
    return table


def _line(label: Text, rest: str) -> Text:
    line = label.copy()
    line.append(rest)
    return line


def _arm(revision: Object | None) -> str:
    if not revision:
        return "-"
    return f"{revision.get('model', '?')}  (revision {revision.get('revision', '?')[:10]})"


def _status(rollout: Object) -> Object:
    status: Object = rollout.get("status") or {}
    return status
