"""OCR engines side by side: ceiling on correct renders, images/s per core, pairs needed.

    python bench/ocr_engines_bench.py [--seeds 2] [--engines tesseract,rapidocr]

Three sets of correct renders of the default suite's texts and tests/quality/render.py's
samples: clean and busy (tests/quality/render.py, as bench/ocr_bench.py) and scene-like
(tests/quality/scene_render.py: curved, strongly rotated, textured, low-contrast or small
text, DejaVu and Liberation fonts). Per engine and set, in one run on the same PNGs:
- ceiling: the share of correct renders whose text check passes (full scoring, score_png);
- images/s per core: one engine in this process, one thread, sequential;
- pairs for 0.89 -> 0.84: a fixed-horizon one-sided two-proportion z-test (alpha 0.05,
  power 0.8) on the rates OCR lets the judge see, 0.89 c and 0.84 c for ceiling c (a misread
  good image looks like a bad one); 577 pairs at c = 1 (docs: statistics notes). The
  anytime-valid judge needs more, in about the same proportion.
Also the share of garbled renders (30% of letters substituted) that pass: false passes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ocr_bench import corpus_texts  # noqa: E402
from tests.quality.render import garble, render_scene, to_png  # noqa: E402
from tests.quality.scene_render import render_scene_text  # noqa: E402

from imagerollout.quality.ocr import OcrEngine, engine_factory, score_png  # noqa: E402

Item = tuple[bytes, str]
Z = NormalDist()


def corpora(seeds: int, limit: int) -> dict[str, list[Item]]:
    pairs = [(text, seed) for seed in range(seeds) for text in corpus_texts()][:limit]
    return {
        "clean": [(to_png(render_scene(t, s)), t) for t, s in pairs],
        "busy": [(to_png(render_scene(t, s, busy=True)), t) for t, s in pairs],
        "scene": [(to_png(render_scene_text(t, s)[0]), t) for t, s in pairs],
        "garbled (false passes)": [
            (to_png(render_scene_text(garble(t, 0.3, s), s)[0]), t) for t, s in pairs
        ],
    }


def pairs_needed(ceiling: float, before: float = 0.89, after: float = 0.84) -> float:
    """Fixed-horizon pairs per arm to see before -> after through OCR with this ceiling."""
    p1, p2 = before * ceiling, after * ceiling
    if p1 <= p2:
        return math.inf
    mean = (p1 + p2) / 2
    alpha, power = Z.inv_cdf(0.95), Z.inv_cdf(0.8)
    spread = alpha * math.sqrt(2 * mean * (1 - mean)) + power * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(spread**2 / (p1 - p2) ** 2)


def measure(engine: OcrEngine, items: Sequence[Item]) -> tuple[float, float]:
    """(share passed, images per second)."""
    started = time.perf_counter()
    passed = sum(score_png(engine, png, text).passed for png, text in items)
    return passed / len(items), len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--limit", type=int, default=10_000, help="renders per set at most")
    args = parser.parse_args()
    sets = corpora(args.seeds, args.limit)
    engines = {name: engine_factory(name)() for name in args.engines.split(",")}
    print(f"| set (images) | {' | '.join(f'{n}: ceiling, img/s/core, pairs' for n in engines)} |")
    print(f"|---|{'---|' * len(engines)}")
    for label, items in sets.items():
        cells = []
        for engine in engines.values():
            share, rate = measure(engine, items)
            pairs = "" if label.startswith("garbled") else f", {pairs_needed(share):.0f}"
            cells.append(f"{100 * share:.1f}%, {rate:.1f}{pairs}")
        print(f"| {label} ({len(items)}) | {' | '.join(cells)} |", flush=True)
    print(f"\npairs at ceiling 1.0: {pairs_needed(1.0):.0f} (0.89 -> 0.84)")


if __name__ == "__main__":
    main()
