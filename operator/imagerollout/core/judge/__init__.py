"""The judge: pure, anytime-valid statistics deciding Pass / Fail / Inconclusive per gate.

Every test here may be checked after every pair without inflating its error rates; see
docs/judge.md for the methods, their guarantees and their cost against Wald's SPRT.
"""

from imagerollout.core.judge.binary import BinaryStats, binary_gate, binary_verdict
from imagerollout.core.judge.continuous import (
    ContinuousStats,
    continuous_gate,
    continuous_verdict,
)
from imagerollout.core.judge.judge import judge, split_alpha
from imagerollout.core.judge.types import GateResult, Outcome, Verdict

__all__ = [
    "BinaryStats",
    "ContinuousStats",
    "GateResult",
    "Outcome",
    "Verdict",
    "binary_gate",
    "binary_verdict",
    "continuous_gate",
    "continuous_verdict",
    "judge",
    "split_alpha",
]
