"""The judge: pure, anytime-valid statistics deciding Pass / Fail / Inconclusive per gate.

Every test here may be checked after every pair without inflating its error rates; see
docs/judge.md for the methods, their guarantees and their cost against Wald's SPRT.
"""

from imagerollout.core.judge.binary import BinaryStats, binary_gate
from imagerollout.core.judge.continuous import ContinuousStats, continuous_gate
from imagerollout.core.judge.judge import judge, split_alpha
from imagerollout.core.judge.types import GateResult, Outcome, Verdict

__all__ = [
    "BinaryStats",
    "ContinuousStats",
    "GateResult",
    "Outcome",
    "Verdict",
    "binary_gate",
    "continuous_gate",
    "judge",
    "split_alpha",
]
