"""Bodies of the objects the operator owns: <name>-primary Deployment and the two Services."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from imagerollout import GROUP, KIND, VERSION
from imagerollout.core.rollout.revision import PRIMARY_SUFFIX, primary_selector

Object = dict[str, Any]
REVISION_ANNOTATION = f"{GROUP}/revision"
ROLLOUT_LABEL = f"{GROUP}/rollout"


def primary_name(rollout: str) -> str:
    return f"{rollout}{PRIMARY_SUFFIX}"


def canary_name(rollout: str) -> str:
    return f"{rollout}-canary"


def fallback_name(rollout: str, capability: str) -> str:
    """The Deployment and Service that keep a pinned capability on its earlier model."""
    return f"{rollout}-fallback-{capability}"


def owner_reference(rollout: Object) -> Object:
    meta = rollout["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(rollout: Object, name: str) -> Object:
    return {
        "name": name,
        "namespace": rollout["metadata"]["namespace"],
        "labels": {"app.kubernetes.io/managed-by": "imagerollout", ROLLOUT_LABEL: name},
        "ownerReferences": [owner_reference(rollout)],
    }


def primary_template(template: Mapping[str, Any], selector: Mapping[str, str]) -> Object:
    """The target's pod template, relabelled so only the primary Service selects it."""
    result: Object = copy.deepcopy(dict(template))
    labels = result.setdefault("metadata", {}).setdefault("labels", {})
    labels.update(primary_selector(selector))
    return result


def primary_deployment(
    rollout: Object,
    template: Mapping[str, Any],
    selector: Mapping[str, str],
    revision: str,
    replicas: int,
) -> Object:
    meta = _metadata(rollout, primary_name(rollout["metadata"]["name"]))
    meta["annotations"] = {REVISION_ANNOTATION: revision}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": primary_selector(selector)},
            "template": primary_template(template, selector),
        },
    }


def service(
    rollout: Object, name: str, selector: Mapping[str, str], port: int, target: int
) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(rollout, name),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector),
            "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def rolled_out(obj: Object) -> bool:
    """Every wanted pod runs the current template and is available; no old pods remain."""
    want = int(obj.get("spec", {}).get("replicas", 1))
    status = obj.get("status", {})
    current = status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
    counts = (status.get(k, 0) for k in ("replicas", "updatedReplicas", "availableReplicas"))
    return current and all(count == want for count in counts)
