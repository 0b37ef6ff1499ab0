"""The pairs worth a look, per stratum: those that moved the verdict first, as thumbnails.

A pair is discordant when one arm passed where the other did not: OCR read the expected text
in one image only, or one request failed. The judge's binary gates count exactly these pairs
(ties cancel), so they are what moved the verdict. After them come the pairs whose edit
distance differs most. At most `per_stratum` pairs of each stratum are shown.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from imagerollout.quality.evidence import read_samples

THUMBNAIL = 192  # pixels, the longer side
ARMS = ("baseline", "canary")


@dataclass(frozen=True)
class ArmView:
    image: str | None  # a data: URI of the thumbnail
    reading: str | None
    passed: bool | None
    error: str | None
    latency: float | None


@dataclass(frozen=True)
class PairView:
    index: int
    prompt: str
    expected: str | None
    seed: int | None
    baseline: ArmView
    canary: ArmView
    discordant: bool
    gap: float  # |edit distance canary - baseline|, 0 when unknown


@dataclass(frozen=True)
class StratumView:
    name: str
    pairs: int  # pairs stored for this stratum
    canary_only: int  # pairs where only the canary passed
    baseline_only: int  # pairs where only the baseline passed
    shown: list[PairView]


def strata(directory: Path, per_stratum: int) -> list[StratumView]:
    """Every stratum with stored pairs, the most baseline-only pairs first."""
    grouped: dict[str, list[tuple[int, dict[str, dict[str, Any]]]]] = {}
    for index, arms in sorted(read_samples(directory).items()):
        if all(arm in arms for arm in ARMS):
            grouped.setdefault(str(arms["canary"].get("stratum", "")), []).append((index, arms))
    views = [_stratum(directory, name, pairs, per_stratum) for name, pairs in grouped.items()]
    return sorted(views, key=lambda v: (-v.baseline_only, v.name))


def _stratum(
    directory: Path,
    name: str,
    pairs: list[tuple[int, dict[str, dict[str, Any]]]],
    per_stratum: int,
) -> StratumView:
    passes = [(_passed(a["baseline"]), _passed(a["canary"])) for _, a in pairs]
    ranked = sorted(pairs, key=lambda p: (not _discordant(p[1]), -_gap(p[1]), p[0]))
    return StratumView(
        name=name,
        pairs=len(pairs),
        canary_only=sum(1 for b, c in passes if c and not b),
        baseline_only=sum(1 for b, c in passes if b and not c),
        shown=[_pair(directory, index, arms) for index, arms in ranked[:per_stratum]],
    )


def _passed(record: dict[str, Any]) -> bool:
    """The arm's pass: answered, and (with expected text) OCR read it."""
    if record.get("error") or not record.get("image"):
        return False
    text = (record.get("scores") or {}).get("text_passed")
    return text is not False


def _discordant(arms: dict[str, dict[str, Any]]) -> bool:
    return _passed(arms["baseline"]) != _passed(arms["canary"])


def _gap(arms: dict[str, dict[str, Any]]) -> float:
    b, c = ((arms[a].get("scores") or {}).get("ned") for a in ARMS)
    return (
        abs(float(c) - float(b))
        if isinstance(b, int | float) and isinstance(c, int | float)
        else 0.0
    )


def _pair(directory: Path, index: int, arms: dict[str, dict[str, Any]]) -> PairView:
    canary = arms["canary"]
    seed = canary.get("seed")
    return PairView(
        index=index,
        prompt=str(canary.get("prompt") or ""),
        expected=canary.get("expectedText") or None,
        seed=seed if isinstance(seed, int) else None,
        baseline=_arm(directory, arms["baseline"]),
        canary=_arm(directory, canary),
        discordant=_discordant(arms),
        gap=_gap(arms),
    )


def _arm(directory: Path, record: dict[str, Any]) -> ArmView:
    scores = record.get("scores") or {}
    latency = record.get("latencySeconds")
    return ArmView(
        image=thumbnail(directory / Path(str(record["image"])).name)
        if record.get("image")
        else None,
        reading=record.get("ocrText"),
        passed=scores.get("text_passed"),
        error=record.get("error"),
        latency=float(latency) if isinstance(latency, int | float) else None,
    )


def thumbnail(path: Path) -> str | None:
    """A small PNG as a data: URI, so the page needs nothing else; None if unreadable."""
    try:
        with Image.open(path) as image:
            image.thumbnail((THUMBNAIL, THUMBNAIL))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="PNG", optimize=True)
    except (OSError, ValueError):
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
