"""An inline SVG of one gate: its anytime-valid bounds on the effect against pairs, the limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, PAD, RIGHT = 460, 160, 40, 90  # RIGHT: room for the labels of the lines
MAX_POINTS = 200  # a long run is thinned to this many points


@dataclass(frozen=True)
class Point:
    samples: int
    lower: float
    upper: float
    effect: float


def svg(title: str, points: Sequence[Point], limit: float | None) -> str:
    """The band between the bounds, the effect as a line, the limit dashed, zero dotted."""
    if not points:
        return ""
    points = _thin(points)
    low = min([p.lower for p in points] + [0.0] + ([limit] if limit is not None else []))
    high = max([p.upper for p in points] + [0.0] + ([limit] if limit is not None else []))
    span = (high - low) or 1.0
    most = max(p.samples for p in points) or 1

    def x(samples: int) -> float:
        return PAD + (WIDTH - PAD - RIGHT) * samples / most

    def y(value: float) -> float:
        return HEIGHT - PAD + (value - low) / span * -(HEIGHT - 2 * PAD)

    band = [f"{x(p.samples):.1f},{y(p.upper):.1f}" for p in points]
    band += [f"{x(p.samples):.1f},{y(p.lower):.1f}" for p in reversed(points)]
    effect = " ".join(f"{x(p.samples):.1f},{y(p.effect):.1f}" for p in points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<polygon class="band" points="{" ".join(band)}"/>',
        f'<polyline class="effect" points="{effect}"/>',
    ]
    close = limit is not None and abs(y(limit) - y(0.0)) < 12  # labels would overlap
    parts.append(_hline("zero", y(0.0), "" if close else "0"))
    if limit is not None:
        parts.append(_hline("limit", y(limit), f"limit {limit:+.3g}"))
    parts += [
        f'<text x="{PAD}" y="{HEIGHT - 8}">0</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end">{most} pairs</text>',
        f'<text x="4" y="{y(high) + 4:.1f}">{high:+.3g}</text>',
        f'<text x="4" y="{y(low) + 4:.1f}">{low:+.3g}</text>',
        "</svg>",
    ]
    return "".join(parts)


def _hline(kind: str, at: float, label: str) -> str:
    return (
        f'<line class="{kind}" x1="{PAD}" x2="{WIDTH - RIGHT}" y1="{at:.1f}" y2="{at:.1f}"/>'
        f'<text class="{kind}" x="{WIDTH - RIGHT + 4}" y="{at + 4:.1f}">{escape(label)}</text>'
    )


def _thin(points: Sequence[Point]) -> list[Point]:
    if len(points) <= MAX_POINTS:
        return list(points)
    step = len(points) / MAX_POINTS
    kept = [points[int(i * step)] for i in range(MAX_POINTS)]
    return [*kept[:-1], points[-1]]
