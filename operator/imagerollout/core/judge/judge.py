"""Combine gate verdicts into one rollout outcome, and split the false-alarm budget."""

from __future__ import annotations

from collections.abc import Sequence

from imagerollout.core.judge.types import GateResult, Outcome, Verdict


def judge(results: Sequence[GateResult], samples: int, max_samples: int) -> Outcome:
    """Any Fail rolls back; all Pass promotes; otherwise continue until the sample budget ends.

    No gates means nothing to wait for, so the canary is promoted.
    """
    verdicts = [r.verdict for r in results]
    if Verdict.FAIL in verdicts:
        return Outcome.ROLLBACK
    if all(v is Verdict.PASS for v in verdicts):
        return Outcome.PROMOTE
    if samples >= max_samples:
        return Outcome.INCONCLUSIVE
    return Outcome.CONTINUE


def split_alpha(total: float, gates: int) -> float:
    """Bonferroni: each gate gets total / gates, so the family-wise rate stays <= total."""
    if not 0.0 < total < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {total}")
    if gates < 1:
        raise ValueError(f"need at least one gate, got {gates}")
    return total / gates
