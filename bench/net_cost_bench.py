"""NetCost on the seed's numbers: the real judge (record + evaluate after every pair).

    python bench/net_cost_bench.py [--runs N]

Before: 61% typographic accuracy, $0.045, 2200 ms per image; after: 89%, $0.065, 2600 ms
(tests/core/quality/seed_numbers.py; latency jitter +-10%). A cheaper garbler: 30%, $0.030,
2000 ms. Each row: one gate (plus the Errors gate every analysis judges), margin $0.005 per
image, maxSamples 2000, stopping at the first decision. Break-even rework for the upgrade:
0.02 / 0.28 = $0.071 per failed image.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core.quality.seed_numbers import (
    AFTER,
    BEFORE,
    GARBLER,
    Model,
    cost_gate,
    judge_stream,
    net_cost_gate,
)

from imagerollout.api.v1alpha1 import Gate

ROWS: list[tuple[str, Gate, Model, Model, str]] = [
    ("upgrade, NetCost rework $0.10", net_cost_gate("0.10"), BEFORE, AFTER, "Promote"),
    ("upgrade, NetCost rework $0.25", net_cost_gate("0.25"), BEFORE, AFTER, "Promote"),
    (
        "upgrade, NetCost rework $0.10 + $0.01/s",
        net_cost_gate("0.10", latency_cost="0.01"),
        BEFORE,
        AFTER,
        "Promote",
    ),
    ("upgrade, CostPerImage (raw cost)", cost_gate(), BEFORE, AFTER, "Rollback"),
    ("garbler, NetCost rework $0.10", net_cost_gate("0.10"), BEFORE, GARBLER, "Rollback"),
    ("garbler, CostPerImage (raw cost)", cost_gate(), BEFORE, GARBLER, "Promote"),
    ("identical models, NetCost $0.10", net_cost_gate("0.10"), BEFORE, BEFORE, "Promote"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    runs = parser.parse_args().runs
    print(f"| scenario ({runs} runs) | expected | outcomes | median pairs |")
    print("|---|---|---|---|")
    for label, gate, baseline, canary, expected in ROWS:
        outcomes: Counter[str] = Counter()
        pairs = []
        for seed in range(runs):
            outcome, n, _, _ = judge_stream(gate, baseline, canary, seed)
            outcomes[outcome.value] += 1
            pairs.append(n)
        shares = ", ".join(f"{k} {100 * v / runs:.0f}%" for k, v in outcomes.most_common())
        print(f"| {label} | {expected} | {shares} | {statistics.median(pairs):.0f} |")


if __name__ == "__main__":
    main()
