"""Betting tests on a bounded mean that adapt to the observed spread (Waudby-Smith & Ramdas).

Each pair gives x in [-c, c] (an oriented difference, higher is better, clipped to a range fixed
before sampling), mapped to y = (x + c) / 2c in [0, 1]. For a null value m:
- "up" tests H0: E[y] <= m with capital prod(1 + lam_i (y_i - m));
- "down" tests H0: E[y] >= m with capital prod(1 + lam_i (m - y_i)).
Each factor has conditional mean <= 1 under its null when lam_i is chosen before y_i is seen,
so the capital is a nonnegative supermartingale and, by Ville's inequality, reaches 1/alpha
with probability <= alpha however long one watches. lam_i is the predictable plug-in of
Waudby-Smith & Ramdas (2023, eq. 26): sqrt(2 log(2/a) / (var_{i-1} i log(1 + i))), truncated to
keep every factor positive. A small observed spread gives large bets, so identical arms pass in
a handful of pairs instead of paying for the whole clip range.

The state keeps the capitals at the gate's margin (the exact tests) and on a fixed grid of
null values (for the reported bounds), so it grows by one pair at a time and round-trips
through status as JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

GRID = tuple(j / 16 for j in range(1, 16))  # null values of y for the reported bounds
TRUNCATION = 0.95  # share of the largest safe bet (Waudby-Smith & Ramdas use 1/2 to 3/4)
PLUGIN_ALPHA = 0.05  # the plug-in's design level: any fixed value keeps validity
PRIOR_MEAN, PRIOR_VAR, PRIOR_WEIGHT = 0.5, 0.25, 0.25


@dataclass(frozen=True)
class BettingState:
    """Sequential capitals for one gate cell; every float is finite and JSON-safe."""

    clip: float  # c: x is clipped to [-c, c]
    margin: float  # the null value in x units (-w: canary worse by exactly the margin)
    n: int = 0
    sum_x: float = 0.0
    sum_b: float = 0.0  # raw values, for the means shown in status
    sum_c: float = 0.0
    sum_y: float = 0.0
    sq: float = 0.0  # sum of (y_i - mean estimate after i)^2, for the plug-in variance
    up: float = 0.0  # log capital against E[x] <= margin (Pass)
    down: float = 0.0  # log capital against E[x] >= margin (Fail)
    grid_up: tuple[float, ...] = field(default_factory=lambda: (0.0,) * len(GRID))
    grid_down: tuple[float, ...] = field(default_factory=lambda: (0.0,) * len(GRID))

    def add(self, x: float, *, baseline: float = 0.0, canary: float = 0.0) -> BettingState:
        if not all(map(math.isfinite, (x, baseline, canary))):
            raise ValueError(f"values must be finite, got {x}, {baseline}, {canary}")
        c = self.clip
        y = (min(max(x, -c), c) + c) / (2.0 * c)
        t = self.n + 1
        weight = PRIOR_WEIGHT + self.n
        mean = (PRIOR_WEIGHT * PRIOR_MEAN + self.sum_y) / weight
        var = (PRIOR_WEIGHT * PRIOR_VAR + self.sq) / weight
        m = self.null_y
        mean_after = (PRIOR_WEIGHT * PRIOR_MEAN + self.sum_y + y) / (weight + 1)
        return replace(
            self,
            n=t,
            sum_x=self.sum_x + (2.0 * y - 1.0) * c,
            sum_y=self.sum_y + y,
            sum_b=self.sum_b + baseline,
            sum_c=self.sum_c + canary,
            sq=self.sq + (y - mean_after) ** 2,
            up=self.up + _log_up(mean, var, y, m),
            down=self.down + _log_down(mean, var, y, m),
            grid_up=tuple(
                g + _log_up(mean, var, y, v) for g, v in zip(self.grid_up, GRID, strict=True)
            ),
            grid_down=tuple(
                g + _log_down(mean, var, y, v) for g, v in zip(self.grid_down, GRID, strict=True)
            ),
        )

    @property
    def null_y(self) -> float:
        return (self.margin + self.clip) / (2.0 * self.clip)

    @property
    def mean(self) -> float:
        """Mean clipped difference x (0 before any pair)."""
        return self.sum_x / self.n if self.n else 0.0

    def rejects_up(self, alpha: float) -> bool:
        return self.up >= math.log(1.0 / alpha)

    def rejects_down(self, alpha: float) -> bool:
        return self.down >= math.log(1.0 / alpha)

    def bounds(self, lower_alpha: float, upper_alpha: float) -> tuple[float, float]:
        """Anytime-valid (lower, upper) on E[x], to the grid's resolution or the margin."""
        lower, upper = 0.0, 1.0
        level = math.log(1.0 / lower_alpha)
        for value, capital in zip(GRID, self.grid_up, strict=True):
            if capital < level:
                break
            lower = value
        level = math.log(1.0 / upper_alpha)
        for value, capital in zip(reversed(GRID), reversed(self.grid_down), strict=True):
            if capital < level:
                break
            upper = value
        c = self.clip
        low_x, high_x = (2.0 * lower - 1.0) * c, (2.0 * upper - 1.0) * c
        if self.rejects_up(lower_alpha):
            low_x = max(low_x, self.margin)
        if self.rejects_down(upper_alpha):
            high_x = min(high_x, self.margin)
        return low_x, high_x

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["grid_up"], data["grid_down"] = list(self.grid_up), list(self.grid_down)
        return data

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> BettingState:
        data = dict(raw)
        data["grid_up"] = tuple(data.get("grid_up", (0.0,) * len(GRID)))
        data["grid_down"] = tuple(data.get("grid_down", (0.0,) * len(GRID)))
        return BettingState(**data)


def new_state(clip: float, margin: float) -> BettingState:
    if not clip > 0.0 or not -clip < margin < clip:
        raise ValueError(f"need clip > 0 and margin inside (-clip, clip): {clip}, {margin}")
    return BettingState(clip=clip, margin=margin)


def _bet(edge: float, var: float, cap: float) -> float:
    """aGRAPA: the growth-optimal bet for the estimated edge and spread, within [0, cap]."""
    return min(max(edge / (var + edge * edge), 0.0), cap)


def _log_up(mean: float, var: float, y: float, m: float) -> float:
    return math.log1p(_bet(mean - m, var, TRUNCATION / m) * (y - m))


def _log_down(mean: float, var: float, y: float, m: float) -> float:
    return math.log1p(_bet(m - mean, var, TRUNCATION / (1.0 - m)) * (m - y))
