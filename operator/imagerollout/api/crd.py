"""Generate the ImageModelRollout CRD from the pydantic models.

pydantic emits JSON Schema with $ref and anyOf-null; the API server wants a structural
schema, so refs are inlined and optional fields become plain optional properties.
"""

from __future__ import annotations

from typing import Any

import yaml

from imagerollout import GROUP, KIND, PLURAL, VERSION
from imagerollout.api.capabilities import FALLBACK_INFIX
from imagerollout.api.fields import JsonDict, cel, lit, quoted
from imagerollout.api.v1alpha1 import RolloutSpec, RolloutStatus

DROPPED_KEYS = {"title", "$defs"}
PRINTER_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight"},
    {"name": "Step", "type": "integer", "jsonPath": ".status.currentStepIndex"},
    {"name": "Canary", "type": "string", "jsonPath": ".status.canary.model"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


# The operator names its Services <name>-primary and <name>-canary, which must be DNS-1035
# labels: a letter first, then lowercase letters, digits and "-", at most 63 characters.
DERIVED_SUFFIXES = ("-primary", "-canary")
MAX_WITH_CAPABILITY = 63 - len(FALLBACK_INFIX)
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
MAX_NAME_LENGTH = 63 - max(len(suffix) for suffix in DERIVED_SUFFIXES)
_NAME = "self.metadata.name"
_PRIMARY = quoted(f"{_NAME} + '-primary'")
_CANARY = quoted(f"{_NAME} + '-canary'")
NAME_RULES: list[JsonDict] = [
    cel(
        f"{_NAME}.matches({lit(DNS_1035_LABEL)})",
        "metadata.name must start with a letter and hold only lowercase letters, digits and "
        "'-' (no dots)",
        f"'metadata.name ' + {quoted(_NAME)} + ' must start with a letter and hold only "
        'lowercase letters, digits and "-" (no dots): the operator creates the Services \' + '
        f"{_PRIMARY} + ' and ' + {_CANARY} + "
        "', which must be DNS-1035 labels'",
        field_path=".metadata.name",
    ),
    cel(
        f"size({_NAME}) <= {MAX_NAME_LENGTH}",
        f"metadata.name must be at most {MAX_NAME_LENGTH} characters",
        f'\'metadata.name "%s" is %d characters; at most {MAX_NAME_LENGTH} fit, so that the '
        f'Service "%s-primary" is at most 63\'.format([{_NAME}, size({_NAME}), {_NAME}])',
        field_path=".metadata.name",
    ),
    # A pinned capability's fallback Service is <name>-fallback-<capability>.
    cel(
        f"!has(self.spec.capabilities) || self.spec.capabilities.all(c, "
        f"size({_NAME}) + size(c.name) <= {MAX_WITH_CAPABILITY})",
        f"metadata.name and a capability name together must be at most "
        f"{MAX_WITH_CAPABILITY} characters",
        f'\'metadata.name "%s" (%d characters) and a capability name together must be at '
        f"most {MAX_WITH_CAPABILITY} characters, so that the fallback Service "
        f"%s{FALLBACK_INFIX}<capability> is at most 63'.format([{_NAME}, size({_NAME}), {_NAME}])",
        field_path=".spec.capabilities",
    ),
]


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, defs)
    if "anyOf" in node:
        choices = [c for c in node["anyOf"] if c.get("type") != "null"]
        if len(choices) != 1:
            raise ValueError(f"cannot express union in a structural schema: {node}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return _resolve({**choices[0], **rest}, defs)
    out = {k: _resolve(v, defs) for k, v in node.items() if k not in DROPPED_KEYS}
    if out.get("default", ...) is None:
        del out["default"]
    return out


def _structural(node: Any) -> Any:
    """Merge CEL rules that pydantic put beside each other and drop enum metadata."""
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _structural(v) for k, v in node.items()}
    if out.get("type") == "string" and "enum" in out:
        out["enum"] = list(out["enum"])
    return out


def schema_of(model: type[Any]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    resolved = _resolve(raw, raw.get("$defs", {}))
    result: dict[str, Any] = _structural(resolved)
    return result


def crd() -> dict[str, Any]:
    spec_schema = schema_of(RolloutSpec)
    spec_schema["description"] = "Desired rollout: target, routing and steps."
    status_schema = schema_of(RolloutStatus)
    status_schema["description"] = "Observed state, written by the operator."
    status_schema.pop("required", None)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["imr"],
                "categories": ["all", "imagerollout"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "Rolls out a new image model in weighted steps.",
                            "required": ["spec"],
                            "x-kubernetes-validations": NAME_RULES,
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                # Declared so that the name rules' fieldPath resolves; the API
                                # server allows only name and generateName here.
                                "metadata": {
                                    "type": "object",
                                    "properties": {"name": {"type": "string"}},
                                },
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


HEADER = (
    "# Generated by `imagerollout crd` from operator/imagerollout/api/v1alpha1.py.\n"
    "# Do not edit.\n"
)


def crd_yaml() -> str:
    return HEADER + yaml.safe_dump(crd(), sort_keys=False, width=100)
