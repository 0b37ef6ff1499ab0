"""`imagerollout judge`'s progress: a live bar with the verdicts on a terminal, lines in CI logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from imagerollout.core.judge import GateResult, Outcome
from imagerollout.core.quality.cells import stratum_cell

STYLES = {"Pass": "green", "Fail": "bold red", "Inconclusive": "yellow"}


class JudgeProgress(Protocol):
    def update(
        self, pairs: int, errors: tuple[int, int], outcome: Outcome, results: Sequence[GateResult]
    ) -> None: ...

    def close(self) -> None: ...


def progress_for(stream: TextIO, max_samples: int) -> JudgeProgress:
    console = Console(file=stream, highlight=False)
    if console.is_terminal:
        return LiveProgress(console, max_samples)
    return LineProgress(stream, max_samples)


def _shown(results: Sequence[GateResult]) -> list[GateResult]:
    """Each gate, and a stratum's cell only once it fails (it names the regression)."""
    return [r for r in results if not stratum_cell(r.gate) or r.verdict.value == "Fail"]


class LineProgress:
    """One plain line per batch: CI logs keep every step, with no control characters."""

    def __init__(self, stream: TextIO, max_samples: int) -> None:
        self.stream, self.max_samples = stream, max_samples

    def update(
        self, pairs: int, errors: tuple[int, int], outcome: Outcome, results: Sequence[GateResult]
    ) -> None:
        verdicts = " ".join(f"{r.gate}={r.verdict.value}" for r in _shown(results))
        self.stream.write(
            f"pairs {pairs}/{self.max_samples}  errors baseline {errors[0]} canary {errors[1]}"
            f"  judge: {outcome.value}  {verdicts}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        pass


class LiveProgress:
    """A rich progress bar over maxSamples and a table of the verdicts, redrawn in place."""

    def __init__(self, console: Console, max_samples: int) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pairs"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.bar.add_task("judge: Continue", total=max_samples)
        self.live = Live(self.bar, console=console, auto_refresh=False, transient=False)
        self.live.start()

    def update(
        self, pairs: int, errors: tuple[int, int], outcome: Outcome, results: Sequence[GateResult]
    ) -> None:
        self.bar.update(self.task, completed=pairs, description=f"judge: {outcome.value}")
        table = Table(box=None, pad_edge=False)
        for column in ("gate", "verdict", "pairs", "effect", "bounds"):
            table.add_column(column)
        for r in _shown(results):
            verdict = f"[{STYLES.get(r.verdict.value, '')}]{r.verdict.value}[/]"
            bounds = f"[{r.lower:+.3g}, {r.upper:+.3g}]"
            table.add_row(r.gate, verdict, str(r.samples), f"{r.effect:+.3g}", bounds)
        caption = Text(f"errors: baseline {errors[0]}, canary {errors[1]}")
        self.live.update(Group(self.bar, table, caption), refresh=True)

    def close(self) -> None:
        self.live.stop()
