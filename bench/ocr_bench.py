"""OCR scorer benchmark: throughput against the raw tesseract CLI, and accuracy.

    python bench/ocr_bench.py [--quick] [--workers 2] [--seeds 3]

Renders the default suite's expected texts (and tests/quality/render.py's samples) as
clean, garbled and busy scenes, plus the demo model server's baseline images, then
measures in one run:
- the scorer's images/s (OcrPool) against `tesseract IMAGE stdout --psm 11` run
  sequentially on the same PNGs, and their ratio; the contenders take turns every few
  images so that they all see the same machine load;
- the single engine's images/s and milliseconds per image;
- pass rates of psm 3, psm 11 and best-of (the OCR ceiling on correct renders), and of
  garbled renders (false passes).
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
Runner = Callable[[Sequence[Item], Sequence[Path]], object]
CHUNK = 8  # images per turn when contenders alternate


@dataclass(frozen=True)
class Corpus:
    clean: list[Item]
    garbled: list[Item]  # letters substituted, scored against the correct text
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


def write_pngs(items: Sequence[Item], folder: Path) -> list[Path]:
    paths = [folder / f"{index}.png" for index in range(len(items))]
    for path, (png, _) in zip(paths, items, strict=True):
        path.write_bytes(png)
    return paths


def run_cli(paths: Sequence[Path], psms: Sequence[int], one_thread: bool = False) -> None:
    """The tesseract CLI on each file, one process after another (default OpenMP threads)."""
    env = {k: v for k, v in os.environ.items() if k != OMP_THREAD_LIMIT}
    if one_thread:
        env[OMP_THREAD_LIMIT] = "1"
    for path in paths:
        for psm in psms:
            command = ["tesseract", str(path), "stdout", "--psm", str(psm)]
            subprocess.run(command, env=env, capture_output=True, check=True)


def contenders(pool: OcrPool, engine: TesseractEngine, quick: bool) -> dict[str, Runner]:
    runners: dict[str, Runner] = {
        "pool": lambda items, _: pool.score_many(items),
        "single": lambda items, _: [score_png(engine, png, text) for png, text in items],
        "cli 11": lambda _, paths: run_cli(paths, [11]),
    }
    if not quick:
        runners["cli 11+3"] = lambda _, paths: run_cli(paths, [11, 3])
        runners["cli 11 omp1"] = lambda _, paths: run_cli(paths, [11], one_thread=True)
    return runners


def interleaved_seconds(
    runners: dict[str, Runner], items: Sequence[Item], paths: Sequence[Path]
) -> dict[str, float]:
    """Total seconds per runner, taking turns chunk by chunk so all see the same load."""
    totals = dict.fromkeys(runners, 0.0)
    for start in range(0, len(items), CHUNK):
        chunk, chunk_paths = items[start : start + CHUNK], paths[start : start + CHUNK]
        for name, run in runners.items():
            totals[name] += timed(functools.partial(run, chunk, chunk_paths))
    return totals


def throughput(images: Sequence[Item], workers: int, quick: bool) -> None:
    engine = TesseractEngine()
    with OcrPool(workers=workers) as pool, tempfile.TemporaryDirectory() as folder:
        paths = write_pngs(images, Path(folder))
        pool.score_many(images[:workers])  # start the workers before timing
        seconds = interleaved_seconds(contenders(pool, engine, quick), images, paths)
    n = len(images)
    rate = {name: n / total for name, total in seconds.items()}
    per_image_ms = seconds["single"] / n * 1000
    print(f"images: {n} clean renders, 512 px; contenders take turns every {CHUNK} images")
    print(f"single engine:     {rate['single']:5.1f} img/s  ({per_image_ms:.0f} ms per image)")
    print(f"OcrPool({workers}):        {rate['pool']:5.1f} img/s")
    print(f"CLI psm 11:        {rate['cli 11']:5.1f} img/s  (sequential, default OpenMP)")
    if not quick:
        print(f"CLI psm 11 then 3: {rate['cli 11+3']:5.1f} img/s  (both modes, as best-of needs)")
        print(
            f"CLI psm 11:        {rate['cli 11 omp1']:5.1f} img/s  (sequential, OMP_THREAD_LIMIT=1)"
        )
    print(f"ratio pool / CLI psm 11:        {rate['pool'] / rate['cli 11']:.2f}x  (target >= 1.0x)")
    if not quick:
        print(f"ratio pool / CLI psm 11 then 3: {rate['pool'] / rate['cli 11+3']:.2f}x")


def pass_rate(scores: Sequence[TextScore]) -> str:
    n = max(1, len(scores))
    passed = sum(score.passed for score in scores)
    return f"{passed:3d}/{len(scores):<3d} {passed / n:6.1%}"


def best_of(first: TextScore, second: TextScore) -> TextScore:
    """What score_text keeps: the first reading if it passes, else the better one."""
    return max((first, second), key=lambda score: (score.passed, -score.ned))


def accuracy_row(name: str, items: Sequence[Item], pools: dict[int, OcrPool]) -> None:
    psm11, psm3 = pools[11].score_many(items), pools[3].score_many(items)
    best = [best_of(a, b) for a, b in zip(psm11, psm3, strict=True)]
    mean_ned = sum(score.ned for score in best) / max(1, len(best))
    columns = "  ".join(pass_rate(scores) for scores in (psm3, psm11, best))
    print(f"{name:22s} {columns}  {mean_ned:.3f}")


def accuracy(sets: dict[str, Sequence[Item]], workers: int) -> None:
    def engine(psm: int) -> functools.partial[TesseractEngine]:
        return functools.partial(TesseractEngine, psms=(psm,))

    print(f"{'passed':22s} {'psm 3':>14s}  {'psm 11':>14s}  {'best-of 11,3':>14s}  mean ned")
    with OcrPool(workers, engine(11)) as psm11, OcrPool(workers, engine(3)) as psm3:
        for name, items in sets.items():
            accuracy_row(name, items, {11: psm11, 3: psm3})


def demo_server_items(seeds: int, substitution_rate: float) -> list[Item]:
    """The demo model server's images for the suite's text prompts (baseline when rate 0)."""
    from imagerollout.demo.server import Knobs, render

    knobs = Knobs(substitution_rate=substitution_rate)
    prompts = [p for s in default_suite().strata for p in s.prompts if p.expected_text]
    return [
        (to_png(render(p.prompt, seed, 512, 512, knobs)), p.expected_text or "")
        for p in prompts
        for seed in p.seeds[:seeds]
    ]


def demo_server_sets(seeds: int) -> dict[str, Sequence[Item]]:
    try:
        baseline, canary = demo_server_items(seeds, 0.0), demo_server_items(seeds, 0.3)
    except (ImportError, TypeError, AttributeError) as err:
        print(f"demo server renders skipped: {err}")
        return {}
    return {"demo server baseline": baseline, "demo server subst 0.3": canary}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OCR scorer benchmark")
    parser.add_argument("--quick", action="store_true", help="a small corpus, under a minute")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="renders per text")
    args = parser.parse_args(argv)
    texts = corpus_texts()
    texts, seeds = (texts[::4], 1) if args.quick else (texts, args.seeds)
    corpus = build_corpus(texts, seeds)
    throughput(corpus.clean, args.workers, args.quick)
    sets = {"clean": corpus.clean, "busy": corpus.busy, "garbled (must fail)": corpus.garbled}
    accuracy({**sets, **demo_server_sets(seeds)}, args.workers)


if __name__ == "__main__":
    main()
