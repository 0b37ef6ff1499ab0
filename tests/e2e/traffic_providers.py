"""The objects each traffic provider edits, as a user would write them, and how to read them.

Every route object carries, beside the split the rollout moves, things the operator must
leave alone: another route, a match, a filter or header edit, another backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from tests.e2e.rollout_env import DEMO, NAME
from tests.e2e.route_watch import HTTPROUTES, canary_weight

Object = dict[str, Any]
SHARED_LABEL = {"app.kubernetes.io/name": "imagegen"}  # on both arms' pods (replica split)
PODS = 10


def model(replicas: int = 2) -> Object:
    """The demo's model Deployment, with a label both arms keep."""
    deployment: Object = next(yaml.safe_load_all((DEMO / "imagegen.yaml").read_text()))
    deployment["spec"]["replicas"] = replicas
    deployment["spec"]["template"]["metadata"]["labels"].update(SHARED_LABEL)
    return deployment


@dataclass(frozen=True)
class Provider:
    id: str
    routing: Object  # spec.trafficRouting
    objects: Callable[[], list[Object]]  # what the user applies beside the model
    resource: tuple[str, str, str]  # (group, version, plural) of the watched object
    watched: str | None  # its name; None: every object of the resource in the namespace
    weight: Callable[[Object], int | None]  # the canary weight in it
    missing: str  # the routing error when `objects` are not applied
    broken: Callable[[], list[Object]]  # objects that lack one of the two backends
    lacking: str  # (part of) the routing error they give
    replicas: int = 2

    def kept(self, obj: Object) -> Object:
        """What must not change: the whole spec, weights blanked out."""
        kept: Object = _without_weights(obj["spec"])
        return kept


def _without_weights(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_weights(v) for k, v in node.items() if k != "weight"}
    if isinstance(node, list):
        return [_without_weights(v) for v in node]
    return node


# --- Gateway API with Service backends: the demo's HTTPRoute -----------------------------


def _route_objects() -> list[Object]:
    docs = yaml.safe_load_all((DEMO / "imagegen.yaml").read_text())
    return [d for d in docs if d["kind"] == "HTTPRoute"]


def _one_service(obj: Object) -> Object:
    del obj["spec"]["rules"][0]["backendRefs"][1]
    return obj


GATEWAY_API = Provider(
    "gateway-api",
    {"gatewayAPI": {"httpRoute": {"name": NAME}}},
    _route_objects,
    HTTPROUTES,
    NAME,
    canary_weight,
    f"HTTPRoute {NAME} not found",
    lambda: [_one_service(o) for o in _route_objects()],
    f"HTTPRoute {NAME} has no rule with backendRefs to both {NAME}-primary and {NAME}-canary",
)


# --- Istio ------------------------------------------------------------------------------

ISTIO_VERSION = "networking.istio.io/v1"


def _dest(host: str, weight: int, subset: str | None = None) -> Object:
    destination: Object = {"host": host, "port": {"number": 8080}}
    if subset:
        destination["subset"] = subset
    return {"destination": destination, "weight": weight}


def virtual_service(images: list[Object]) -> Object:
    return {
        "apiVersion": ISTIO_VERSION,
        "kind": "VirtualService",
        "metadata": {"name": NAME},
        "spec": {
            "hosts": ["imagegen.example.com"],
            "http": [
                {
                    "name": "docs",
                    "match": [{"uri": {"prefix": "/docs"}}],
                    "route": [{"destination": {"host": "docs"}}],
                },
                {
                    "name": "images",
                    "match": [{"uri": {"prefix": "/v1/images"}}],
                    "headers": {"request": {"add": {"x-served-by": "imagerollout"}}},
                    "retries": {"attempts": 2, "perTryTimeout": "30s"},
                    "route": images,
                },
                {  # lists both arms but is not in `routes`: stays at 100/0
                    "name": "legacy",
                    "match": [{"uri": {"prefix": "/legacy"}}],
                    "route": [_dest("imagegen-primary", 100), _dest("imagegen-canary", 0)],
                },
            ],
        },
    }


def _drop_subset(obj: Object) -> Object:
    if obj["kind"] == "DestinationRule":
        obj["spec"]["subsets"] = obj["spec"]["subsets"][:1]
    return obj


def _istio_weight(obj: Object) -> int | None:
    for route in obj["spec"]["http"]:
        if route["name"] == "images":
            return int(route["route"][-1].get("weight", 0))
    return None


def _istio_objects() -> list[Object]:
    return [virtual_service([_dest("imagegen-primary", 100), _dest("imagegen-canary", 0)])]


def _subset_objects() -> list[Object]:
    rule = {
        "apiVersion": ISTIO_VERSION,
        "kind": "DestinationRule",
        "metadata": {"name": NAME},
        "spec": {
            "host": "imagegen",
            "subsets": [
                {"name": "stable", "labels": {"app": "imagegen-primary"}},
                {"name": "next", "labels": {"app": "imagegen"}},
            ],
        },
    }
    images = [_dest("imagegen", 100, "stable"), _dest("imagegen", 0, "next")]
    return [virtual_service(images), rule]


VIRTUAL_SERVICES = ("networking.istio.io", "v1", "virtualservices")
ISTIO = Provider(
    "istio",
    {"istio": {"virtualService": {"name": NAME, "routes": ["images"]}}},
    _istio_objects,
    VIRTUAL_SERVICES,
    NAME,
    _istio_weight,
    f"VirtualService {NAME} ({ISTIO_VERSION}) not found",
    lambda: [virtual_service([_dest("imagegen-primary", 100)])],
    f"VirtualService {NAME}: HTTP route images does not route to both imagegen-primary and "
    "imagegen-canary",
)
ISTIO_SUBSETS = Provider(
    "istio-subsets",
    {
        "istio": {
            "virtualService": {"name": NAME, "routes": ["images"]},
            "destinationRule": {"name": NAME, "primarySubset": "stable", "canarySubset": "next"},
        }
    },
    _subset_objects,
    VIRTUAL_SERVICES,
    NAME,
    _istio_weight,
    f"DestinationRule {NAME} ({ISTIO_VERSION}) not found",
    lambda: [_drop_subset(o) for o in _subset_objects()],
    f"DestinationRule {NAME} has no subset next",
)


# --- Gateway API Inference Extension ----------------------------------------------------

POOL_GROUP = "inference.networking.k8s.io"


def _pool(name: str, app: str) -> Object:
    return {
        "apiVersion": f"{POOL_GROUP}/v1",
        "kind": "InferencePool",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "targetPorts": [{"number": 8080}],
            "endpointPickerRef": {"name": "imagegen-epp", "port": {"number": 9002}},
        },
    }


def _pool_ref(name: str, weight: int) -> Object:
    return {"group": POOL_GROUP, "kind": "InferencePool", "name": name, "weight": weight}


def _pool_objects() -> list[Object]:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": NAME},
        "spec": {
            "parentRefs": [{"name": "inference-gateway"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/v1/images"}}],
                    "filters": [
                        {
                            "type": "RequestHeaderModifier",
                            "requestHeaderModifier": {
                                "add": [{"name": "x-pool", "value": "inference"}]
                            },
                        }
                    ],
                    "backendRefs": [_pool_ref("imagegen-v1", 100), _pool_ref("imagegen-v2", 0)],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/docs"}}],
                    "backendRefs": [{"name": "docs", "port": 80}],
                },
            ],
        },
    }
    return [route, _pool("imagegen-v1", "imagegen-primary"), _pool("imagegen-v2", "imagegen")]


def _one_pool(obj: Object) -> Object:
    if obj["kind"] == "HTTPRoute":
        del obj["spec"]["rules"][0]["backendRefs"][1]
    return obj


def _pool_weight(obj: Object) -> int | None:
    for ref in obj["spec"]["rules"][0]["backendRefs"]:
        if ref["name"] == "imagegen-v2":
            return int(ref.get("weight", 1))
    return None


INFERENCE_POOL = Provider(
    "inference-pool",
    {
        "inferencePool": {
            "httpRoute": {"name": NAME},
            "primaryPool": "imagegen-v1",
            "canaryPool": "imagegen-v2",
        }
    },
    _pool_objects,
    ("gateway.networking.k8s.io", "v1", "httproutes"),
    NAME,
    _pool_weight,
    f"InferencePool imagegen-v1 ({POOL_GROUP}/v1) not found",
    lambda: [_one_pool(o) for o in _pool_objects()],
    f"HTTPRoute {NAME} has no rule with backendRefs to both InferencePool imagegen-v1 and "
    "InferencePool imagegen-v2",
)


# --- No mesh: replicas behind one Service -----------------------------------------------


def _selecting(selector: dict[str, str]) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME},
        "spec": {"selector": selector, "ports": [{"port": 8080}]},
    }


def _service() -> list[Object]:
    return [_selecting(dict(SHARED_LABEL))]


def _annotated_weight(obj: Object) -> int | None:
    annotations = obj["metadata"].get("annotations") or {}
    weight = annotations.get("imagerollout.dev/canary-weight")
    return None if weight is None else int(weight)


REPLICAS = Provider(
    "replicas",
    {"replicas": {"service": {"name": NAME}}},
    _service,
    ("apps", "v1", "deployments"),
    f"{NAME}-primary",
    _annotated_weight,
    f"Service {NAME} not found",
    lambda: [_selecting({"app": NAME})],
    f"Service {NAME} (selector app={NAME}) does not select the primary pods",
    replicas=PODS,
)


class PodCounts:
    """Replicas of both arms after each Deployment write, in the API server's order."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}

    def __call__(self, obj: Object) -> tuple[int, int] | None:
        self.now[obj["metadata"]["name"]] = int(obj["spec"]["replicas"])
        if len(self.now) < 2:
            return None
        return self.now[f"{NAME}-primary"], self.now[NAME]
