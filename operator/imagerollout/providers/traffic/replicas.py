"""No mesh: the canary weight as the replica ratio of primary and canary behind one Service.

The router scales both Deployments (core/rollout/pod_split.py picks the counts) and grows
before it shrinks: the arm that gains pods gets them first, and the other arm loses pods
only once those are available, so the Service never runs short of ready pods. The step's
weight and the pod total live in annotations on the primary Deployment (which the operator
owns), so a restarted operator carries on from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagerollout import GROUP
from imagerollout.core.observations import RouteView
from imagerollout.core.rollout.pod_split import PodSplit, describe, split
from imagerollout.kube.objects import rolled_out
from imagerollout.providers.traffic.router import Object, ObjectStore

WEIGHT_ANNOTATION = f"{GROUP}/canary-weight"
PODS_ANNOTATION = f"{GROUP}/pods"
DEPLOYMENTS = ("apps/v1", "deployments")


@dataclass
class ReplicaRouter:
    store: ObjectStore
    namespace: str
    primary: str  # the <rollout>-primary Deployment
    canary: str  # the target Deployment
    service: str | None = None

    def observe(self) -> RouteView:
        primary, canary = self._get(self.primary), self._get(self.canary)
        if primary is None or canary is None:  # decide() reports a missing Deployment
            return RouteView(scales_pods=True)
        if self.service is not None and (error := self._service_error(primary, canary)):
            return RouteView(error=error, scales_pods=True)
        annotations = primary["metadata"].get("annotations") or {}
        if WEIGHT_ANNOTATION not in annotations:
            return RouteView(scales_pods=True)
        weight = int(annotations[WEIGHT_ANNOTATION])
        actual = PodSplit(_replicas(primary), _replicas(canary))
        settled = actual == self._wanted(primary, weight) and rolled_out(primary)
        settled = settled and rolled_out(canary)
        return RouteView(
            canary_weight=weight if settled else None,
            note=describe(actual, weight),
            scales_pods=True,
        )

    def set_weight(self, canary_weight: int) -> None:
        primary, canary = self._get(self.primary), self._get(self.canary)
        if primary is None or canary is None:
            raise LookupError("primary or canary Deployment not found")
        want = self._wanted(primary, canary_weight)
        have = PodSplit(_replicas(primary), _replicas(canary))
        grown = PodSplit(max(have.primary, want.primary), max(have.canary, want.canary))
        if grown == have:
            # Shrink once the arms that grew (or stayed) have their pods available.
            ready = (want.primary < have.primary or rolled_out(primary)) and (
                want.canary < have.canary or rolled_out(canary)
            )
            grown = want if ready else have
        self._scale(self.primary, grown.primary, canary_weight, _pods(primary))
        self._scale(self.canary, grown.canary)

    def _wanted(self, primary: Object, weight: int) -> PodSplit:
        return split(_pods(primary), weight)

    def _get(self, name: str) -> Object | None:
        return self.store.get_object(*DEPLOYMENTS, self.namespace, name)

    def _scale(self, name: str, replicas: int, weight: int | None = None, pods: int = 0) -> None:
        def mutate(obj: Object) -> bool:
            before = (_replicas(obj), dict(obj["metadata"].get("annotations") or {}))
            obj["spec"]["replicas"] = replicas
            if weight is not None:
                annotations = obj["metadata"].setdefault("annotations", {})
                annotations[WEIGHT_ANNOTATION] = str(weight)
                annotations.setdefault(PODS_ANNOTATION, str(pods))
            return (_replicas(obj), obj["metadata"].get("annotations") or {}) != before

        self.store.update_object(*DEPLOYMENTS, self.namespace, name, mutate)

    def _service_error(self, primary: Object, canary: Object) -> str | None:
        service = self.store.get_object("v1", "services", self.namespace, str(self.service))
        if service is None:
            return f"Service {self.service} not found"
        selector: dict[str, str] = service.get("spec", {}).get("selector") or {}
        for arm, obj in (("primary", primary), ("canary", canary)):
            labels = _pod_labels(obj)
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                return (
                    f"Service {self.service} (selector {_labels(selector)}) does not select the "
                    f"{arm} pods ({_labels(labels)}): select a label both arms carry, not "
                    "the Deployment's selector"
                )
        return None


def _pods(primary: Object) -> int:
    """The pods both arms share: the primary's count when the router first scaled it."""
    annotations = primary["metadata"].get("annotations") or {}
    return int(annotations.get(PODS_ANNOTATION, _replicas(primary)))


def _replicas(obj: Object) -> int:
    return int(obj.get("spec", {}).get("replicas", 1))


def _pod_labels(obj: Object) -> dict[str, Any]:
    labels: dict[str, Any] = obj["spec"]["template"].get("metadata", {}).get("labels") or {}
    return labels


def _labels(labels: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"
