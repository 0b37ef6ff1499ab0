"""Revisions: a stable hash of a pod template, and the model it serves."""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from imagerollout.api.capabilities import FALLBACK_INFIX

PRIMARY_SUFFIX = "-primary"
CANARY_SUFFIX = "-canary"


def primary_service(rollout: str) -> str:
    return f"{rollout}{PRIMARY_SUFFIX}"


def canary_service(rollout: str) -> str:
    return f"{rollout}{CANARY_SUFFIX}"


def fallback_service(rollout: str, capability: str) -> str:
    """The Deployment and Service that keep a pinned capability on its earlier model."""
    return f"{rollout}{FALLBACK_INFIX}{capability}"


def template_revision(template: Mapping[str, Any]) -> str:
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def template_model(template: Mapping[str, Any]) -> str:
    containers = template.get("spec", {}).get("containers", [])
    return str(containers[0].get("image", "")) if containers else ""


def primary_selector(selector: Mapping[str, str]) -> dict[str, str]:
    """Primary pods carry the target's selector labels with -primary appended."""
    return {key: f"{value}{PRIMARY_SUFFIX}" for key, value in selector.items()}
