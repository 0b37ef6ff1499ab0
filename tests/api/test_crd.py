"""The committed CRD is exactly what the pydantic models generate, and it is structural."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from imagerollout.api.crd import crd_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = REPO_ROOT / "crds" / "imagemodelrollouts.imagerollout.dev.yaml"
REGENERATE = (
    "run `make crd` (that is, `.venv/bin/imagerollout crd --output "
    "crds/imagemodelrollouts.imagerollout.dev.yaml`) and commit the result"
)


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def version(committed: dict[str, Any]) -> dict[str, Any]:
    versions: list[dict[str, Any]] = committed["spec"]["versions"]
    assert [v["name"] for v in versions] == ["v1alpha1"]
    return versions[0]


@pytest.fixture(scope="module")
def schema(version: dict[str, Any]) -> dict[str, Any]:
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


def schema_nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below (and including) ``node``, with a JSON-path-like location."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from schema_nodes(node["additionalProperties"], f"{path}{{*}}")


def test_committed_crd_matches_the_models() -> None:
    expected = crd_yaml()
    actual = CRD_FILE.read_text() if CRD_FILE.is_file() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                fromfile=f"{CRD_FILE.relative_to(REPO_ROOT)} (committed)",
                tofile="crd_yaml() (generated)",
                n=2,
            )
        )
        pytest.fail(
            f"{CRD_FILE.relative_to(REPO_ROOT)} is out of date with "
            f"operator/imagerollout/api/v1alpha1.py: {REGENERATE}.\n{diff}",
            pytrace=False,
        )


def test_names_and_short_name(committed: dict[str, Any]) -> None:
    assert committed["metadata"]["name"] == "imagemodelrollouts.imagerollout.dev"
    names = committed["spec"]["names"]
    assert names["kind"] == "ImageModelRollout"
    assert names["plural"] == "imagemodelrollouts"
    assert "imr" in names["shortNames"]


def test_status_subresource(version: dict[str, Any]) -> None:
    assert version["subresources"].get("status") == {}
    assert version["served"] is True
    assert version["storage"] is True


def test_printer_columns(version: dict[str, Any]) -> None:
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Phase", "Weight", "Step", "Canary", "Age"]
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert columns["Weight"]["jsonPath"] == ".status.canaryWeight"
    assert columns["Weight"]["type"] == "integer"
    assert columns["Step"]["jsonPath"] == ".status.currentStepIndex"
    assert columns["Step"]["type"] == "integer"
    assert columns["Canary"]["jsonPath"] == ".status.canary.model"
    assert columns["Age"] == {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
    }


def test_spec_has_no_floats(schema: dict[str, Any]) -> None:
    floats = [
        path
        for path, node in schema_nodes(schema["properties"]["spec"], "spec")
        if node.get("type") == "number" or node.get("format") in {"float", "double"}
    ]
    assert floats == [], f"floating-point fields in spec (use integers): {floats}"


def test_every_schema_node_has_a_type(schema: dict[str, Any]) -> None:
    nodes = list(schema_nodes(schema, "<root>"))
    untyped = [path for path, node in nodes if "type" not in node]
    assert untyped == [], f"schema nodes without a type (not structural): {untyped}"
    wrongly_typed = [
        path for path, node in nodes if "properties" in node and node["type"] != "object"
    ]
    assert wrongly_typed == [], f"nodes with properties must be type object: {wrongly_typed}"
    # Sanity check that the walk reached the leaves it should have.
    paths = {path for path, _ in nodes}
    assert "<root>.spec.steps[].pause.duration" in paths
    assert "<root>.status.conditions[].lastTransitionTime" in paths


def test_spec_and_status_are_objects_and_spec_is_required(schema: dict[str, Any]) -> None:
    assert schema["type"] == "object"
    assert schema["required"] == ["spec"]
    assert schema["properties"]["spec"]["type"] == "object"
    assert schema["properties"]["status"]["type"] == "object"
    assert schema["properties"]["status"]["properties"]["abort"]["type"] == "boolean"
