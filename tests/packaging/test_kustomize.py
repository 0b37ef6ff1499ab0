"""The kustomize base and examples render, and say the same as the Helm chart and the API."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from imagerollout.api.v1alpha1 import RolloutSpec
from imagerollout.quality.suite import load_suite
from tests.packaging.chart import REPO_ROOT, Manifest, of_kind, one, render

KUBECTL = "/usr/bin/kubectl"
MANIFESTS = REPO_ROOT / "manifests"


def kustomize(path: str) -> list[Manifest]:
    proc = subprocess.run(
        [KUBECTL, "kustomize", str(MANIFESTS / path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return found


def pod(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def test_base_holds_crd_rbac_and_the_operator() -> None:
    base = kustomize(".")
    kinds = sorted(m["kind"] for m in base)
    assert kinds == sorted(
        ["CustomResourceDefinition", "Namespace", "ServiceAccount", "Deployment"]
        + ["ClusterRole", "ClusterRoleBinding"] * 2
        + ["Role", "RoleBinding"]  # the Lease
    )
    namespaced = [m for m in base if m["kind"] in ("ServiceAccount", "Deployment", "Role")]
    assert {m["metadata"]["namespace"] for m in namespaced} == {"imagerollout-system"}
    deployment = one(base, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == one(render(), "Deployment")["spec"]["strategy"]


def test_base_rbac_is_the_charts_cluster_scope() -> None:
    base, chart = kustomize("."), render("imagerollout", "imagerollout-system")
    for suffix in ("", "-discovery"):
        ours = named(base, "ClusterRole", f"imagerollout{suffix}")["rules"]
        theirs = named(chart, "ClusterRole", f"imagerollout{suffix}")["rules"]
        assert ours == theirs, suffix
    assert (
        named(base, "Role", "imagerollout-leader")["rules"]
        == (named(chart, "Role", "imagerollout-leader")["rules"])
    )


@pytest.mark.parametrize(
    "field", ["securityContext", "serviceAccountName", "terminationGracePeriodSeconds"]
)
def test_base_pod_matches_the_chart(field: str) -> None:
    assert pod(kustomize("."))[field] == pod(render("imagerollout", "imagerollout-system"))[field]


@pytest.mark.parametrize(
    "field", ["args", "env", "ports", "livenessProbe", "resources", "securityContext"]
)
def test_base_container_matches_the_chart(field: str) -> None:
    ours = pod(kustomize("."))["containers"][0]
    theirs = pod(render("imagerollout", "imagerollout-system"))["containers"][0]
    assert ours[field] == theirs[field]


def test_examples_are_valid_for_the_operator() -> None:
    examples = kustomize("examples")
    assert sorted(m["kind"] for m in examples) == [
        "ConfigMap",
        "Deployment",
        "HTTPRoute",
        "ImageModelRollout",
    ]
    rollout = one(examples, "ImageModelRollout")
    spec = RolloutSpec.model_validate(rollout["spec"])
    assert spec.analysis is not None
    ref = spec.analysis.suite.config_map_ref
    assert ref is not None
    config_map = one(examples, "ConfigMap")
    assert config_map["metadata"]["name"] == ref.name
    suite = load_suite(config_map["data"][ref.key])
    strata = {s.name for s in suite.strata}
    for gate in spec.analysis.gates:
        assert set(gate.strata) <= strata, gate
    route = one(examples, "HTTPRoute")
    backends = {b["name"] for r in route["spec"]["rules"] for b in r["backendRefs"]}
    assert backends == {f"{spec.target_ref.name}-primary", f"{spec.target_ref.name}-canary"}
    assert one(examples, "Deployment")["metadata"]["name"] == spec.target_ref.name
