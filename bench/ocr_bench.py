"""OCR scorer benchmark: throughput against the raw tesseract CLI, and accuracy.

    python bench/ocr_bench.py [--quick] [--workers 2] [--seeds 3]

Renders the default suite's expected texts (and tests/quality/render.py's samples) as
clean scenes, garbled scenes and busy scenes, then measures in one run:
- the scorer's images/s (OcrPool) against `tesseract IMAGE stdout --psm 11` run
  sequentially on the same PNGs with the default environment, and their ratio;
- the single engine's images/s and seconds per image;
- pass rates of psm 3, psm 11 and best-of (the OCR ceiling on correct renders), and
  of garbled renders (false passes).
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.quality.render import SAMPLE_TEXTS, garble, render_scene, to_png  # noqa: E402

from imagerollout.quality.ocr import (  # noqa: E402
    OMP_THREAD_LIMIT,
    OcrPool,
    TesseractEngine,
    TextScore,
    score_png,
)
from imagerollout.quality.suite import default_suite  # noqa: E402

Item = tuple[bytes, str]


@dataclass(frozen=True)
class Corpus:
    clean: list[Item]
    garbled: list[Item]
    busy: list[Item]


def corpus_texts() -> list[str]:
    suite = default_suite()
    texts = [p.expected_text for s in suite.strata for p in s.prompts if p.expected_text]
    return list(dict.fromkeys([*texts, *SAMPLE_TEXTS]))


def build_corpus(texts: Sequence[str], seeds: int) -> Corpus:
    pairs = [(text, seed) for seed in range(seeds) for text in texts]
    return Corpus(
        clean=[(to_png(render_scene(text, seed)), text) for text, seed in pairs],
        garbled=[
            (to_png(render_scene(garble(text, 0.3, seed), seed)), text) for text, seed in pairs
        ],
        busy=[(to_png(render_scene(text, seed, busy=True)), text) for text, seed in pairs],
    )


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def cli_seconds(
    items: Sequence[Item], psms: Sequence[int], folder: Path, one_thread: bool = False
) -> float:
    """Run the tesseract CLI on each PNG, one process after another (default OpenMP threads)."""
    paths = []
    for index, (png, _) in enumerate(items):
        path = folder / f"{index}.png"
        path.write_bytes(png)
        paths.append(path)
    env = {k: v for k, v in os.environ.items() if k != OMP_THREAD_LIMIT}
    if one_thread:
        env[OMP_THREAD_LIMIT] = "1"

    def run() -> None:
        for path in paths:
            for psm in psms:
                command = ["tesseract", str(path), "stdout", "--psm", str(psm)]
                subprocess.run(command, env=env, capture_output=True, check=True)

    return timed(run)


def pass_rate(scores: Sequence[TextScore]) -> str:
    passed = sum(score.passed for score in scores)
    mean_ned = sum(score.ned for score in scores) / max(1, len(scores))
    return f"{passed}/{len(scores)} = {passed / max(1, len(scores)):.1%} (mean ned {mean_ned:.3f})"


def pool_scores(items: Sequence[Item], workers: int, psms: Sequence[int]) -> list[TextScore]:
    factory = functools.partial(TesseractEngine, psms=tuple(psms))
    with OcrPool(workers=workers, engine_factory=factory) as pool:
        return pool.score_many(items)


def throughput(corpus: Corpus, workers: int) -> None:
    images = corpus.clean
    engine = TesseractEngine()
    with OcrPool(workers=workers) as pool, tempfile.TemporaryDirectory() as folder:
        pool.score_many(images[:workers])  # start the workers before timing
        cli_11 = cli_seconds(images, [11], Path(folder))
        pooled = timed(lambda: pool.score_many(images))
        single = timed(lambda: [score_png(engine, png, text) for png, text in images])
        cli_both = cli_seconds(images, [11, 3], Path(folder))
        cli_one = cli_seconds(images, [11], Path(folder), one_thread=True)
    n = len(images)
    print(f"images: {n} clean renders, 512 px")
    print(f"single engine:   {n / single:5.1f} img/s  ({single / n * 1000:.0f} ms per image)")
    print(f"OcrPool({workers}):      {n / pooled:5.1f} img/s")
    print(f"CLI psm 11:      {n / cli_11:5.1f} img/s  (sequential, default OpenMP)")
    print(f"CLI psm 11 + 3:  {n / cli_both:5.1f} img/s  (both modes, as best-of needs)")
    print(f"CLI psm 11:      {n / cli_one:5.1f} img/s  (sequential, OMP_THREAD_LIMIT=1)")
    print(f"ratio pool / CLI psm 11:      {cli_11 / pooled:.2f}x  (target >= 1.0x)")
    print(f"ratio pool / CLI psm 11 + 3:  {cli_both / pooled:.2f}x")


def accuracy(corpus: Corpus, workers: int) -> None:
    modes = {"psm 3": [3], "psm 11": [11], "best-of 11,3": [11, 3]}
    for name, psms in modes.items():
        print(f"clean  {name:13s} passed {pass_rate(pool_scores(corpus.clean, workers, psms))}")
    best_of = [11, 3]
    print(f"busy   best-of 11,3  passed {pass_rate(pool_scores(corpus.busy, workers, best_of))}")
    garbled = pool_scores(corpus.garbled, workers, best_of)
    print(f"garbled best-of 11,3 passed {pass_rate(garbled)}  (false passes)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small corpus, under a minute")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="renders per text")
    args = parser.parse_args(argv)
    texts = corpus_texts()
    texts, seeds = (texts[::3], 1) if args.quick else (texts, args.seeds)
    corpus = build_corpus(texts, seeds)
    throughput(corpus, args.workers)
    accuracy(corpus, args.workers)


if __name__ == "__main__":
    main()
