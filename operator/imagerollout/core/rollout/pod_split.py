"""No mesh: a canary weight as a replica ratio of primary and canary behind one Service.

A Service spreads requests evenly over its ready pods, so c canary pods of n serve about
c/n of the traffic. The split is the nearest ratio that keeps both arms alive: a canary
step gets at least one canary pod, and a step below 100% keeps at least one primary pod.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PodSplit:
    primary: int
    canary: int

    @property
    def pods(self) -> int:
        return self.primary + self.canary

    @property
    def canary_percent(self) -> float:
        return 100 * self.canary / self.pods if self.pods else 0.0


def split(pods: int, weight: int) -> PodSplit:
    """`pods` in total (the primary's count at 0%), `weight` percent to the canary."""
    if not 0 <= weight <= 100:
        raise ValueError(f"weight must be 0..100, got {weight}")
    pods = max(pods, 1)
    if weight == 0:
        return PodSplit(pods, 0)
    if weight == 100:
        return PodSplit(0, pods)
    pods = max(pods, 2)  # both arms need a pod
    canary = (pods * weight + 50) // 100  # round half up
    canary = min(max(canary, 1), pods - 1)
    return PodSplit(pods - canary, canary)


def describe(actual: PodSplit, weight: int) -> str:
    """What users get, against the step's weight: "2 canary of 20 pods is 10%"."""
    share = actual.canary_percent
    text = f"{actual.canary} canary of {actual.pods} pods is {share:.3g}%"
    off = share - weight
    if abs(off) < 0.05:
        return text
    return f"{text}, {abs(off):.3g} points {'above' if off > 0 else 'below'} the step's {weight}%"
