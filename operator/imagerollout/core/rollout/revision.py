"""Revisions: a stable hash of a pod template, and the model it serves."""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

PRIMARY_SUFFIX = "-primary"


def template_revision(template: Mapping[str, Any]) -> str:
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


def template_model(template: Mapping[str, Any]) -> str:
    containers = template.get("spec", {}).get("containers", [])
    return str(containers[0].get("image", "")) if containers else ""


def primary_selector(selector: Mapping[str, str]) -> dict[str, str]:
    """Primary pods carry the target's selector labels with -primary appended."""
    return {key: f"{value}{PRIMARY_SUFFIX}" for key, value in selector.items()}
