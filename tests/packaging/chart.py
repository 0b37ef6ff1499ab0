"""The Helm chart under test: a helm binary built from its Go module, and rendering helpers."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "imagerollout"
BUILD_HELM = REPO_ROOT / "scripts" / "build-helm.sh"

Manifest = dict[str, Any]


@functools.cache
def helm_binary() -> Path:
    """scripts/build-helm.sh: the cached helm (built from helm.sh/helm/v3/cmd/helm on first use)."""
    proc = subprocess.run(
        [str(BUILD_HELM)], capture_output=True, text=True, check=False, timeout=1800
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_HELM} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_file(), f"build-helm.sh printed {path}, which is not a file"
    return path


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(helm_binary()), *args], capture_output=True, text=True, check=False, timeout=300
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"helm {' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc


def set_flags(values: dict[str, str]) -> list[str]:
    """--set-json for each dotted key (values are JSON texts, so lists and numbers keep types)."""
    return [flag for key, value in values.items() for flag in ("--set-json", f"{key}={value}")]


def template_text(
    release: str = "imagerollout",
    namespace: str = "imagerollout-system",
    values: dict[str, str] | None = None,
    *extra: str,
) -> str:
    args = ["template", release, str(CHART), "--namespace", namespace]
    return helm(*args, *set_flags(values or {}), *extra).stdout


def render(
    release: str = "imagerollout",
    namespace: str = "imagerollout-system",
    values: dict[str, str] | None = None,
    *extra: str,
) -> list[Manifest]:
    """`helm template` parsed into manifests (empty documents dropped)."""
    text = template_text(release, namespace, values, *extra)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(manifests: list[Manifest], *kinds: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in kinds]


def one(manifests: list[Manifest], kind: str) -> Manifest:
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {[m['metadata']['name'] for m in found]}"
    return found[0]
