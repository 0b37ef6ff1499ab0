"""Verdicts and results shared by every gate and the overall judge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    PASS = "Pass"
    FAIL = "Fail"
    INCONCLUSIVE = "Inconclusive"


class Outcome(StrEnum):
    PROMOTE = "Promote"
    CONTINUE = "Continue"
    ROLLBACK = "Rollback"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with the numbers behind it; every float is finite (status is JSON)."""

    gate: str
    verdict: Verdict
    samples: int
    baseline: float
    canary: float
    effect: float
    lower: float
    upper: float
    reason: str
