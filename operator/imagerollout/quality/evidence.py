"""Evidence: every sample's image and record on disk, so a regression can be reproduced.

Layout under the root (a path or a PVC mount):

    <root>/<rollout dir>/.imagerollout-evidence      marker: only such dirs are ever pruned
    <root>/<rollout dir>/000012-canary.png           the image as received (absent on error)
    <root>/<rollout dir>/000012-canary.json          prompt, seed, OCR text, scores, latency, error
    <root>/<rollout dir>/trajectory.jsonl            each gate's bounds after each batch (a line
                                                     per gate), for the report's plots

Safe across SIGKILLs, re-passes and restarts: a record is written to a temporary file and
renamed into place (a restart deletes what a kill left before the rename); trajectory lines
are appended with one write and an fsync, after a newline that ends a line torn by a crash; a
resumed sampler drops the lines of batches beyond its plan index (`forget_from`), and
`read_trajectory` keeps one line per gate and sample count.

`read_pairs` reads a rollout dir back, for `imagerollout judge --replay`.

Retention is bounded twice: only the `retain_rollouts` most recently written rollout dirs are
kept, and within a rollout only the newest `max_samples_per_rollout` sample indexes.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from imagerollout.quality.endpoint import Generation
from imagerollout.quality.suite import Probe

MARKER = ".imagerollout-evidence"
TRAJECTORY = "trajectory.jsonl"
_SAMPLE_FILE = re.compile(r"^(\d{6,})-([a-z0-9][a-z0-9-]*)\.(png|json)$")
# What _write_image and _write_atomic leave behind when killed before their rename.
_TEMPORARY = re.compile(
    r"^\.(\d{6,}-[a-z0-9-]+\.png\.tmp|(\d{6,}-[a-z0-9-]+\.json|trajectory\.jsonl)\..+)$"
)
_ARM = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_KEY_CHARS = 80

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass
class _Rollout:
    """What is on disk for one rollout, loaded once and then kept in step."""

    path: Path
    indexes: list[int] = field(default_factory=list)  # sorted sample indexes present
    next_index: dict[str, int] = field(default_factory=dict)  # per arm


class EvidenceStore:
    def __init__(
        self, root: Path, retain_rollouts: int, max_samples_per_rollout: int = 5000
    ) -> None:
        if retain_rollouts < 1 or max_samples_per_rollout < 1:
            raise ValueError("retain_rollouts and max_samples_per_rollout must be at least 1")
        self.root = Path(root)
        self.retain_rollouts = retain_rollouts
        self.max_samples_per_rollout = max_samples_per_rollout
        self._rollouts: dict[str, _Rollout] = {}
        self._lock = threading.Lock()  # samplers may store from several threads

    def rollout_dir(self, rollout_key: str) -> Path:
        """Where a rollout's evidence lives (the pointer to put in status)."""
        return self.root / safe_key(rollout_key)

    def store(
        self,
        rollout_key: str,
        probe: Probe,
        arm: str,
        generation: Generation,
        ocr_text: str | None,
        scores: Mapping[str, object],
        *,
        index: int | None = None,
    ) -> str:
        """Write one sample; return the record's path relative to the root.

        Pass the plan index as `index` so that both arms of a pair share a number; without it
        each arm counts on from its highest stored index. Raises OSError if the disk fails.
        """
        if not _ARM.match(arm):
            raise ValueError(f"arm must match {_ARM.pattern}, got {arm!r}")
        if index is not None and index < 0:
            raise ValueError(f"index must be >= 0, got {index}")
        with self._lock:
            rollout = self._open(rollout_key)
            number = rollout.next_index.get(arm, 0) if index is None else index
            rollout.next_index[arm] = max(rollout.next_index.get(arm, 0), number + 1)
            stem = f"{number:06d}-{arm}"
            image_name = self._write_image(rollout.path, stem, generation)
            record = _record(rollout_key, number, arm, probe, generation, ocr_text, scores)
            record.update(_image_facts(rollout.path, image_name))
            _write_atomic(rollout.path / f"{stem}.json", _dump(record))
            self._remember(rollout, number)
            return f"{rollout.path.name}/{stem}.json"

    def append_trajectory(self, rollout_key: str, rows: list[dict[str, JsonValue]]) -> None:
        """Append the gates' bounds after a batch (one JSON line each). Raises OSError.

        Rows carrying `planIndex` (the sampler's plan index after the batch) are dropped by
        forget_from when a resumed sampler redoes that batch."""
        data = "".join(json.dumps(row, allow_nan=False) + "\n" for row in rows).encode()
        with self._lock:
            rollout = self._open(rollout_key)
            _append_lines(rollout.path / TRAJECTORY, data)

    def forget_from(self, rollout_key: str, index: int) -> int:
        """Delete the samples numbered `index` and up; return how many.

        A sampler resumed from status at plan index N redoes N, N+1, ... with the same numbers;
        what an earlier sampler stored there (progress that never reached status) goes first,
        so a rollout's evidence is exactly the pairs it judged.
        """
        with self._lock:
            if not self.rollout_dir(rollout_key).is_dir():
                return 0
            rollout = self._open(rollout_key)
            stale = [n for n in rollout.indexes if n >= index]
            for number in stale:
                _delete_sample(rollout.path, number)
            rollout.indexes = [n for n in rollout.indexes if n < index]
            rollout.next_index = {arm: min(n, index) for arm, n in rollout.next_index.items()}
            _forget_trajectory(rollout.path / TRAJECTORY, index)
            return len(stale)

    def _write_image(self, directory: Path, stem: str, generation: Generation) -> str | None:
        if generation.image is None:
            return None
        name = f"{stem}.png"
        temporary = directory / f".{name}.tmp"
        try:
            generation.image.save(temporary, format="PNG", compress_level=1)  # speed over size
            os.replace(temporary, directory / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return name

    def _open(self, rollout_key: str) -> _Rollout:
        key = safe_key(rollout_key)
        known = self._rollouts.get(key)
        if known is not None and known.path.is_dir():
            return known
        path = self.root / key
        path.mkdir(parents=True, exist_ok=True)
        (path / MARKER).touch()
        os.utime(path)  # reopening counts as recent use, so pruning spares it
        rollout = _scan(path)
        self._rollouts[key] = rollout
        self._prune_rollouts(keep=key)
        return rollout

    def _prune_rollouts(self, keep: str) -> None:
        """Delete all but the `retain_rollouts` most recently written rollout dirs."""
        candidates = [
            d
            for d in self.root.iterdir()
            if d.is_dir() and not d.is_symlink() and (d / MARKER).is_file()
        ]
        others = sorted(
            (d for d in candidates if d.name != keep), key=lambda d: d.stat().st_mtime, reverse=True
        )
        for stale in others[self.retain_rollouts - 1 :]:
            shutil.rmtree(stale, ignore_errors=True)
            self._rollouts.pop(stale.name, None)

    def _remember(self, rollout: _Rollout, number: int) -> None:
        """Track the sample index and drop the oldest indexes beyond the per-rollout cap."""
        position = bisect.bisect_left(rollout.indexes, number)
        if position == len(rollout.indexes) or rollout.indexes[position] != number:
            rollout.indexes.insert(position, number)
        while len(rollout.indexes) > self.max_samples_per_rollout:
            _delete_sample(rollout.path, rollout.indexes.pop(0))


def read_samples(directory: Path) -> dict[int, dict[str, dict[str, JsonValue]]]:
    """The records of a rollout dir by sample index, then arm; unreadable records are skipped."""
    samples: dict[int, dict[str, dict[str, JsonValue]]] = {}
    for entry in sorted(directory.glob("*.json")):
        match = _SAMPLE_FILE.match(entry.name)
        if match is None:
            continue
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            samples.setdefault(int(match.group(1)), {})[match.group(2)] = record
    return samples


def read_trajectory(directory: Path) -> list[dict[str, JsonValue]]:
    """The rows append_trajectory wrote, one per gate and sample count (the last written: a
    batch redone after a restart rewrites them); a torn line (a crash mid-write) is skipped."""
    rows: dict[tuple[str, str], dict[str, JsonValue]] = {}
    for row in _trajectory_rows(directory / TRAJECTORY):
        rows[(str(row.get("gate")), str(row.get("samples")))] = row
    return list(rows.values())


def _trajectory_rows(path: Path) -> list[dict[str, JsonValue]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _append_lines(path: Path, data: bytes) -> None:
    """One write, then fsync: a crash leaves at most one torn line, at the end. If an earlier
    crash left one, a newline first ends it, so it cannot swallow the first new line."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _forget_trajectory(path: Path, index: int) -> None:
    """Drop the rows of batches that ended beyond plan index `index` (never saved in status)."""
    rows = _trajectory_rows(path)
    kept = [row for row in rows if _plan_index(row) <= index]
    if len(kept) < len(rows):
        _write_atomic(path, "".join(json.dumps(row) + "\n" for row in kept).encode())


def _plan_index(row: dict[str, JsonValue]) -> int:
    value = row.get("planIndex")
    return value if isinstance(value, int) else -1  # rows from before planIndex: kept


def safe_key(rollout_key: str) -> str:
    """A directory name for a rollout key such as "team-a/my-rollout".

    Keys that are already safe are used as they are; any other key is cleaned and gets a
    digest suffix, so that "a/b" and "a_b" do not share a directory and ".." goes nowhere.
    """
    if not rollout_key:
        raise ValueError("rollout_key must not be empty")
    cleaned = _UNSAFE.sub("_", rollout_key.lower()).strip("._-")[:_KEY_CHARS]
    if cleaned == rollout_key:
        return cleaned
    digest = hashlib.sha256(rollout_key.encode()).hexdigest()[:12]
    return f"{cleaned or 'rollout'}-{digest}"


def _scan(path: Path) -> _Rollout:
    """What a rollout dir holds; the temporary files of writes a crash cut short go."""
    rollout = _Rollout(path=path)
    found: set[int] = set()
    for entry in path.iterdir():
        if _TEMPORARY.match(entry.name):
            entry.unlink(missing_ok=True)
            continue
        match = _SAMPLE_FILE.match(entry.name)
        if match is None:
            continue
        number, arm = int(match.group(1)), match.group(2)
        found.add(number)
        rollout.next_index[arm] = max(rollout.next_index.get(arm, 0), number + 1)
    rollout.indexes = sorted(found)
    return rollout


def _delete_sample(path: Path, number: int) -> None:
    prefix = f"{number:06d}-"
    for entry in path.iterdir():
        if entry.name.startswith(prefix) and _SAMPLE_FILE.match(entry.name):
            entry.unlink(missing_ok=True)


def _record(
    rollout_key: str,
    number: int,
    arm: str,
    probe: Probe,
    generation: Generation,
    ocr_text: str | None,
    scores: Mapping[str, object],
) -> dict[str, JsonValue]:
    return {
        "rollout": rollout_key,
        "index": number,
        "arm": arm,
        "stratum": probe.stratum,
        "promptId": probe.prompt_id,
        "prompt": probe.prompt,
        "expectedText": probe.expected_text,
        "seed": probe.seed,
        "latencySeconds": _jsonable(generation.latency_s),
        "cost": _jsonable(generation.cost),
        "error": generation.error,
        "ocrText": ocr_text,
        "scores": _jsonable(dict(scores)),
        "storedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def _image_facts(directory: Path, image_name: str | None) -> dict[str, JsonValue]:
    if image_name is None:
        return {"image": None, "imageSha256": None}
    digest = hashlib.sha256((directory / image_name).read_bytes()).hexdigest()
    return {"image": image_name, "imageSha256": digest}


def _jsonable(value: object) -> JsonValue:
    """JSON-safe copy: NaN and infinities become null, unknown objects their str()."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _dump(record: Mapping[str, JsonValue]) -> bytes:
    return (json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers never see half a record: write a temporary file, then rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class StoredSample:
    """One arm's record as stored, with its image loaded (None when the request failed)."""

    record: dict[str, JsonValue]
    image: Image.Image | None


def read_pairs(directory: Path) -> list[tuple[int, StoredSample, StoredSample]]:
    """A rollout dir's (index, baseline, canary) samples in plan order; half pairs are skipped
    (an arm whose record was pruned or never written)."""
    arms: dict[int, dict[str, StoredSample]] = {}
    for entry in sorted(Path(directory).iterdir()):
        match = _SAMPLE_FILE.match(entry.name)
        if match is None or match.group(3) != "json":
            continue
        record = json.loads(entry.read_text())
        image_name = record.get("image")
        image = None
        if isinstance(image_name, str):
            with Image.open(entry.parent / image_name) as stored:
                image = stored.copy()
        arms.setdefault(int(match.group(1)), {})[match.group(2)] = StoredSample(record, image)
    return [
        (index, found["baseline"], found["canary"])
        for index, found in sorted(arms.items())
        if "baseline" in found and "canary" in found
    ]
