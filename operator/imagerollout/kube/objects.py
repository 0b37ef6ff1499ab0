"""Bodies of the objects the operator owns: <name>-primary Deployment and the two Services."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from imagerollout import GROUP, KIND, VERSION
from imagerollout.core.rollout.revision import (
    canary_service,
    fallback_service,
    primary_selector,
    primary_service,
)

Object = dict[str, Any]
REVISION_ANNOTATION = f"{GROUP}/revision"
ROLLOUT_LABEL = f"{GROUP}/rollout"


primary_name = primary_service
canary_name = canary_service
fallback_name = fallback_service


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


def relabelled(template: Mapping[str, Any], labels: Mapping[str, str]) -> Object:
    """A copy of the pod template whose selector labels are replaced, so that only the
    Service selecting `labels` selects its pods."""
    result: Object = copy.deepcopy(dict(template))
    result.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    return result


def primary_template(template: Mapping[str, Any], selector: Mapping[str, str]) -> Object:
    """The target's pod template, relabelled so only the primary Service selects it."""
    return relabelled(template, primary_selector(selector))


def _deployment(
    rollout: Object,
    name: str,
    template: Object,
    labels: Mapping[str, str],
    revision: str,
    replicas: int,
) -> Object:
    meta = _metadata(rollout, name)
    meta["annotations"] = {REVISION_ANNOTATION: revision}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": template,
        },
    }


def primary_deployment(
    rollout: Object,
    template: Mapping[str, Any],
    selector: Mapping[str, str],
    revision: str,
    replicas: int,
) -> Object:
    name = primary_name(rollout["metadata"]["name"])
    body = primary_template(template, selector)
    return _deployment(rollout, name, body, primary_selector(selector), revision, replicas)


def fallback_selector(selector: Mapping[str, str], capability: str) -> dict[str, str]:
    """Fallback pods carry the target's selector labels with -fallback-<capability> appended,
    so neither the primary nor the canary Service selects them."""
    return {key: fallback_service(value, capability) for key, value in selector.items()}


def fallback_deployment(
    rollout: Object,
    capability: str,
    template: Mapping[str, Any],
    selector: Mapping[str, str],
    revision: str,
    replicas: int,
) -> Object:
    """The pinned model (the primary's template before promotion), relabelled for its Service."""
    labels = fallback_selector(selector, capability)
    name = fallback_name(rollout["metadata"]["name"], capability)
    return _deployment(rollout, name, relabelled(template, labels), labels, revision, replicas)


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
