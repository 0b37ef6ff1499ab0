"""An evidence dir as a sampler leaves it: pairs in two strata, a trajectory, a hostile prompt."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from imagerollout.quality.endpoint import Generation
from imagerollout.quality.evidence import EvidenceStore
from imagerollout.quality.suite import Probe

KEY = "team-a/imagegen/bbbbbbbbbb"
HOSTILE = '<script>alert("prompt")</script> a logo that says "ACME"'


def _image(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (512, 512), colour)


def _scores(passed: bool | None, ned: float | None) -> dict[str, object]:
    return {"ok": True, "text_passed": passed, "ned": ned, "latency_s": 0.2}


def write_evidence(root: Path, logo_pairs: int = 10) -> Path:
    """Logos: the canary misreads every other pair; nature: no text, all fine; one error."""
    store = EvidenceStore(root, retain_rollouts=3)
    index = 0
    for i in range(logo_pairs):
        probe = Probe("logos", f"logo-{i}", HOSTILE, "ACME", 100 + i)
        canary_ok = i % 2 == 1
        store.store(
            KEY,
            probe,
            "baseline",
            Generation(_image((200, 0, 0)), 0.2, None, None),
            "ACME",
            _scores(True, 0.0),
            index=index,
        )
        reading = "ACME" if canary_ok else "AC<b>E"
        store.store(
            KEY,
            probe,
            "canary",
            Generation(_image((0, 0, 200)), 0.3, None, None),
            reading,
            _scores(canary_ok, 0.0 if canary_ok else 0.25),
            index=index,
        )
        index += 1
    for i in range(3):
        probe = Probe("nature", f"tree-{i}", "a tree", None, 200 + i)
        for arm in ("baseline", "canary"):
            failed = arm == "canary" and i == 2
            generation = Generation(
                None if failed else _image((0, 150, 0)), 0.2, "http 500" if failed else None, None
            )
            store.store(KEY, probe, arm, generation, None, _scores(None, None), index=index)
        index += 1
    store.append_trajectory(
        KEY,
        [
            {
                "samples": n,
                "gate": "text/logos",
                "verdict": "Inconclusive" if n < 10 else "Fail",
                "effect": -0.5,
                "lower": -0.5 - 4 / n,
                "upper": -0.5 + 4 / n,
                "limit": -0.05,
            }
            for n in (2, 4, 6, 8, 10)
        ],
    )
    return store.rollout_dir(KEY)
