"""EvidenceStore: what a sample leaves on disk, safe paths, and bounded retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imagerollout.quality.endpoint import Generation
from imagerollout.quality.evidence import MARKER, EvidenceStore, safe_key
from imagerollout.quality.suite import Probe

PROBE = Probe("typography", "typo-open-sign", 'A sign that says "OPEN"', "OPEN", 101)


def image(colour: tuple[int, int, int] = (10, 20, 30)) -> Image.Image:
    return Image.new("RGB", (32, 24), colour)


def good(latency: float = 0.25) -> Generation:
    return Generation(image=image(), latency_s=latency, error=None, cost=0.002)


def failed() -> Generation:
    return Generation(image=None, latency_s=1.5, error="http 500", cost=None)


def read(root: Path, relative: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((root / relative).read_text())
    return record


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def samples(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def test_sample_is_stored_as_png_and_json(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=3)
    relative = store.store("demo", PROBE, "canary", good(), "OPEN", {"passed": True, "ned": 0.0})
    assert relative == "demo/000000-canary.json"
    record = read(tmp_path, relative)
    assert record["image"] == "000000-canary.png"
    assert record | {"storedAt": None, "imageSha256": None} == {
        "rollout": "demo",
        "index": 0,
        "arm": "canary",
        "stratum": "typography",
        "promptId": "typo-open-sign",
        "prompt": 'A sign that says "OPEN"',
        "expectedText": "OPEN",
        "seed": 101,
        "latencySeconds": 0.25,
        "cost": 0.002,
        "error": None,
        "ocrText": "OPEN",
        "scores": {"passed": True, "ned": 0.0},
        "storedAt": None,
        "image": "000000-canary.png",
        "imageSha256": None,
    }
    with Image.open(tmp_path / "demo" / "000000-canary.png") as png:
        assert png.size == (32, 24)
        assert png.convert("RGB").getpixel((0, 0)) == (10, 20, 30)


def test_failed_sample_keeps_its_error_and_no_image(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=3)
    relative = store.store("demo", PROBE, "baseline", failed(), None, {})
    record = read(tmp_path, relative)
    assert (record["image"], record["error"], record["ocrText"]) == (None, "http 500", None)
    assert samples(tmp_path / "demo") == ["000000-baseline.json"]


def test_scores_are_made_json_safe(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=3)
    scores = {"ssim": float("nan"), "phash": 3, "path": Path("x"), "pair": (1.0, float("inf"))}
    record = read(tmp_path, store.store("demo", PROBE, "canary", good(), "", scores))
    assert record["scores"] == {"ssim": None, "phash": 3, "path": "x", "pair": [1.0, None]}


def test_arms_count_independently_so_pairs_share_an_index(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=3)
    paths = [store.store("demo", PROBE, arm, good(), "", {}) for arm in ["baseline", "canary"] * 2]
    assert paths == [
        "demo/000000-baseline.json",
        "demo/000000-canary.json",
        "demo/000001-baseline.json",
        "demo/000001-canary.json",
    ]
    assert (
        store.store("demo", PROBE, "canary", good(), "", {}, index=41) == "demo/000041-canary.json"
    )
    assert store.store("demo", PROBE, "canary", good(), "", {}) == "demo/000042-canary.json"


def test_a_new_store_resumes_numbering_from_disk(tmp_path: Path) -> None:
    EvidenceStore(tmp_path, retain_rollouts=3).store(
        "demo", PROBE, "canary", good(), "", {}, index=7
    )
    reopened = EvidenceStore(tmp_path, retain_rollouts=3)
    assert reopened.store("demo", PROBE, "canary", good(), "", {}) == "demo/000008-canary.json"


def test_a_resumed_sampler_forgets_what_status_never_saw(tmp_path: Path) -> None:
    """A sampler killed at plan index 5 had stored 0..7; status says 5 pairs. The next one
    forgets 5..7 and stores them again under the same numbers: one record per judged pair."""
    first = EvidenceStore(tmp_path, retain_rollouts=3)
    for index in range(8):
        for arm in ("baseline", "canary"):
            first.store("demo", PROBE, arm, good(), "", {}, index=index)
    resumed = EvidenceStore(tmp_path, retain_rollouts=3)
    assert resumed.forget_from("demo", 5) == 3
    assert len(samples(tmp_path / "demo")) == 5 * 4  # png and json per arm
    for index in range(5, 7):
        for arm in ("baseline", "canary"):
            resumed.store("demo", PROBE, arm, good(), "", {}, index=index)
    assert len(samples(tmp_path / "demo")) == 7 * 4
    assert resumed.store("demo", PROBE, "canary", good(), "", {}) == "demo/000007-canary.json"
    assert resumed.forget_from("unknown", 0) == 0


@pytest.mark.parametrize(
    "key", ["../../etc", "/abs/path", "team-a/rollout", "..", "a\x00b", "ÜBER"]
)
def test_rollout_keys_stay_inside_the_root(tmp_path: Path, key: str) -> None:
    root = tmp_path / "evidence"
    store = EvidenceStore(root, retain_rollouts=10)
    relative = store.store(key, PROBE, "canary", good(), "", {})
    written = (root / relative).resolve()
    assert written.is_file()
    assert written.parent.parent == root.resolve()
    assert store.rollout_dir(key) == written.parent


def test_safe_key_keeps_safe_keys_and_separates_cleaned_ones() -> None:
    assert safe_key("team-a.my-rollout") == "team-a.my-rollout"
    assert safe_key("team-a/my-rollout") != safe_key("team-a_my-rollout")
    assert safe_key("team-a/my-rollout").startswith("team-a_my-rollout-")
    with pytest.raises(ValueError, match="rollout_key"):
        safe_key("")


@pytest.mark.parametrize("arm", ["", "../x", "Canary", "a/b"])
def test_bad_arm_names_are_refused(tmp_path: Path, arm: str) -> None:
    with pytest.raises(ValueError, match="arm"):
        EvidenceStore(tmp_path, retain_rollouts=1).store("demo", PROBE, arm, good(), "", {})


def test_retention_keeps_the_most_recent_rollouts(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=2)
    for seconds_ago, name in [(300, "oldest"), (200, "older"), (100, "recent")]:
        store.store(name, PROBE, "canary", good(), "", {})
        age(tmp_path / name, seconds_ago)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["older", "recent"]
    store.store("new", PROBE, "canary", good(), "", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "recent"]


def test_writing_to_a_rollout_makes_it_recent(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=2)
    store.store("first", PROBE, "canary", good(), "", {})
    age(tmp_path / "first", 300)
    store.store("second", PROBE, "canary", good(), "", {})
    age(tmp_path / "second", 200)
    EvidenceStore(tmp_path, retain_rollouts=2).store("first", PROBE, "canary", good(), "", {})
    store.store("third", PROBE, "canary", good(), "", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "third"]


def test_retention_leaves_foreign_directories_alone(tmp_path: Path) -> None:
    (tmp_path / "lost+found").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "README").write_text("hello")
    store = EvidenceStore(tmp_path, retain_rollouts=1)
    for name in ["a", "b", "c"]:
        store.store(name, PROBE, "canary", good(), "", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README", "c", "lost+found", "notes"]
    assert (tmp_path / "c" / MARKER).is_file()


def test_samples_per_rollout_are_capped_dropping_the_oldest(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, retain_rollouts=1, max_samples_per_rollout=3)
    for _ in range(5):
        store.store("demo", PROBE, "baseline", good(), "", {})
        store.store("demo", PROBE, "canary", failed(), "", {})
    assert samples(tmp_path / "demo") == [
        f"{i:06d}-{arm}.{ext}"
        for i in (2, 3, 4)
        for arm, ext in [("baseline", "json"), ("baseline", "png"), ("canary", "json")]
    ]


def test_cap_applies_to_samples_found_on_disk(tmp_path: Path) -> None:
    first = EvidenceStore(tmp_path, retain_rollouts=1)
    for _ in range(4):
        first.store("demo", PROBE, "canary", failed(), "", {})
    capped = EvidenceStore(tmp_path, retain_rollouts=1, max_samples_per_rollout=2)
    capped.store("demo", PROBE, "canary", failed(), "", {})
    assert samples(tmp_path / "demo") == ["000003-canary.json", "000004-canary.json"]


def test_invalid_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retain_rollouts"):
        EvidenceStore(tmp_path, retain_rollouts=0)
    with pytest.raises(ValueError, match="index"):
        EvidenceStore(tmp_path, retain_rollouts=1).store(
            "d", PROBE, "canary", good(), "", {}, index=-1
        )


def test_trajectory_rows_are_appended_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    from imagerollout.quality.evidence import TRAJECTORY, read_samples, read_trajectory

    store = EvidenceStore(tmp_path, retain_rollouts=2)
    store.store("ns/r", PROBE, "baseline", good(), "OPEN", {"text_passed": True}, index=0)
    store.append_trajectory("ns/r", [{"samples": 8, "gate": "text"}])
    store.append_trajectory("ns/r", [{"samples": 16, "gate": "text"}])
    directory = store.rollout_dir("ns/r")
    with (directory / TRAJECTORY).open("a") as out:
        out.write('{"samples": 24, "ga')  # a crash mid-write
    assert [r["samples"] for r in read_trajectory(directory)] == [8, 16]
    assert read_trajectory(tmp_path / "missing") == []
    samples = read_samples(directory)
    assert list(samples) == [0]
    assert samples[0]["baseline"]["ocrText"] == "OPEN"


def test_a_line_torn_by_a_crash_does_not_swallow_the_next_append(tmp_path: Path) -> None:
    from imagerollout.quality.evidence import TRAJECTORY, read_trajectory

    store = EvidenceStore(tmp_path, retain_rollouts=2)
    store.append_trajectory("ns/r", [{"samples": 8, "gate": "text"}])
    directory = store.rollout_dir("ns/r")
    with (directory / TRAJECTORY).open("a") as out:
        out.write('{"samples": 16, "ga')  # SIGKILL mid-write
    store.append_trajectory("ns/r", [{"samples": 16, "gate": "text"}])  # the restarted sampler
    assert [r["samples"] for r in read_trajectory(directory)] == [8, 16]
    lines = (directory / TRAJECTORY).read_text().splitlines()
    assert lines[1] == '{"samples": 16, "ga'  # ended by a newline, skipped on read
    assert json.loads(lines[2]) == {"samples": 16, "gate": "text"}


def test_a_resumed_sampler_leaves_one_row_per_gate_and_sample_count(tmp_path: Path) -> None:
    from imagerollout.quality.evidence import read_trajectory

    def rows(plan_index: int, samples: int, effect: float) -> list[dict[str, Any]]:
        return [
            {"planIndex": plan_index, "gate": g, "samples": samples, "effect": effect}
            for g in ("text", "clip")
        ]

    store = EvidenceStore(tmp_path, retain_rollouts=2)
    for batch in (1, 2, 3):  # progress reached status up to plan index 8 only
        store.append_trajectory("ns/r", rows(4 * batch, 4 * batch, 0.1))
    store.append_trajectory("ns/r", rows(8, 8, 0.2))  # a re-pass after a restart, same batch
    resumed = EvidenceStore(tmp_path, retain_rollouts=2)  # a new process resumes at 8
    resumed.forget_from("ns/r", 8)
    directory = resumed.rollout_dir("ns/r")
    assert [(r["gate"], r["samples"], r["effect"]) for r in read_trajectory(directory)] == [
        ("text", 4, 0.1),
        ("clip", 4, 0.1),
        ("text", 8, 0.2),  # the last written
        ("clip", 8, 0.2),
    ]
    resumed.append_trajectory("ns/r", rows(12, 12, 0.3))  # the redone batch, new bounds
    assert [r["effect"] for r in read_trajectory(directory) if r["samples"] == 12] == [0.3, 0.3]


def test_a_restart_removes_the_temporary_files_of_writes_a_kill_cut_short(tmp_path: Path) -> None:
    from imagerollout.quality.evidence import TRAJECTORY

    store = EvidenceStore(tmp_path, retain_rollouts=2)
    store.store("ns/r", PROBE, "canary", good(), "OPEN", {}, index=0)
    store.append_trajectory("ns/r", [{"samples": 1, "gate": "text"}])
    directory = store.rollout_dir("ns/r")
    left = [".000001-canary.png.tmp", ".000001-canary.json.k3j2x9", f".{TRAJECTORY}.a8b7c6"]
    for name in left:  # SIGKILLed between writing and renaming
        (directory / name).write_text("half")
    EvidenceStore(tmp_path, retain_rollouts=2).store(
        "ns/r", PROBE, "baseline", good(), "OPEN", {}, index=0
    )
    names = sorted(p.name for p in directory.iterdir())
    assert names == [
        MARKER,
        "000000-baseline.json",
        "000000-baseline.png",
        "000000-canary.json",
        "000000-canary.png",
        TRAJECTORY,
    ]
