"""Scorer benchmark: images/s scored in-process against 1 and 2 `imagerollout scorer` processes.

    python bench/scorer_bench.py [--quick] [--pairs 48] [--ocr-workers 1] [--batch 8]

The same pairs (clean 512 px text scenes, OCR on both images) go through, in one run:
- in-process: InProcessScorer on an OcrPool of --ocr-workers processes (what the operator does
  without a scorer Service);
- RemoteScorer on 1 scorer process (--ocr-workers each);
- RemoteScorer on 2 scorer processes, pairs spread over both.
The contenders take turns batch by batch, so they all see the same machine load. Printed:
images/s for each, and the ratios against in-process. On a machine with few cores the remote
contenders pay for HTTP, base64 and PNG encoding with the cores OCR needs: scaling out pays
off when the scorer pods get cores of their own (other nodes), which this bench cannot show.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.quality.render import SAMPLE_TEXTS, render_scene  # noqa: E402

from imagerollout.quality.ocr import OcrPool  # noqa: E402
from imagerollout.quality.scorer import InProcessScorer, PairJob, Scorer  # noqa: E402
from imagerollout.quality.scorer_client import RemoteScorer  # noqa: E402


@contextmanager
def scorer_process(ocr_workers: int) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "imagerollout.cli.main", "scorer"]
    proc = subprocess.Popen(
        [*command, "--address", f"127.0.0.1:{port}", "--ocr-workers", str(ocr_workers)],
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the scorer process did not become ready") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def pairs(n: int) -> list[PairJob]:
    texts = [SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)] for i in range(n)]
    return [
        PairJob(render_scene(t, seed=i), render_scene(t, seed=i + 1000), t)
        for i, t in enumerate(texts)
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="16 pairs")
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--ocr-workers", type=int, default=1, help="per scorer and in-process")
    parser.add_argument("--batch", type=int, default=8, help="pairs per score() call")
    args = parser.parse_args()
    jobs = pairs(16 if args.quick else args.pairs)
    with ExitStack() as stack:
        pool = stack.enter_context(OcrPool(workers=args.ocr_workers))
        one = stack.enter_context(scorer_process(args.ocr_workers))
        two = [one, stack.enter_context(scorer_process(args.ocr_workers))]
        contenders: dict[str, Scorer] = {
            "in-process": InProcessScorer(pool),
            "1 scorer": RemoteScorer(lambda: [one]),
            "2 scorers": RemoteScorer(lambda: two),
        }
        for scorer in contenders.values():  # warm up: workers started, connections open
            scorer.score(jobs[:2])
        seconds = dict.fromkeys(contenders, 0.0)
        for start in range(0, len(jobs), args.batch):
            batch = jobs[start : start + args.batch]
            for name, scorer in contenders.items():
                began = time.perf_counter()
                scorer.score(batch)
                seconds[name] += time.perf_counter() - began
    images = 2 * len(jobs)
    rate = {name: images / total for name, total in seconds.items()}
    print(f"images: {images} ({len(jobs)} pairs, OCR on both), batches of {args.batch} pairs")
    print(f"OCR workers: {args.ocr_workers} in-process and per scorer process")
    for name, value in rate.items():
        print(
            f"{name:11} {value:6.1f} img/s   ratio to in-process {value / rate['in-process']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
