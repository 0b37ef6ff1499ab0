from __future__ import annotations

from typing import Any

from imagerollout.providers.traffic.replicas import (
    PODS_ANNOTATION,
    WEIGHT_ANNOTATION,
    ReplicaRouter,
)
from tests.providers.traffic.store import FakeStore, Object

DEPLOYMENTS = ("apps/v1", "deployments")


def deployment(name: str, replicas: int, labels: dict[str, str]) -> Object:
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}},
        "status": {"observedGeneration": 1},
    }


def cluster(primary: int = 10, canary: int = 0) -> FakeStore:
    store = FakeStore()
    shared = {"app.kubernetes.io/name": "imagegen"}
    store.put(*DEPLOYMENTS, deployment("m-primary", primary, {**shared, "app": "m-primary"}))
    store.put(*DEPLOYMENTS, deployment("m", canary, {**shared, "app": "m"}))
    ready(store)
    return store


def ready(store: FakeStore) -> None:
    """Every Deployment's pods become available (kwok or a kubelet would do this)."""
    for (_, plural, _, _), obj in store.objects.items():
        if plural == "deployments":
            n = obj["spec"]["replicas"]
            obj["status"].update(replicas=n, updatedReplicas=n, availableReplicas=n)
            obj["status"]["observedGeneration"] = obj["metadata"]["generation"]


def replicas(store: FakeStore) -> tuple[int, int]:
    def count(name: str) -> int:
        obj = store.get_object(*DEPLOYMENTS, "ns", name)
        assert obj is not None
        return int(obj["spec"]["replicas"])

    return count("m-primary"), count("m")


def router(store: FakeStore, service: str | None = None) -> ReplicaRouter:
    return ReplicaRouter(store, "ns", "m-primary", "m", service)


def test_grows_the_canary_first_then_shrinks_the_primary() -> None:
    store = cluster()
    router(store).set_weight(25)
    assert replicas(store) == (10, 3)  # canary pods first; the primary keeps all of its own
    assert router(store).observe().canary_weight is None

    router(store).set_weight(25)  # the canary's pods are not available yet: nothing shrinks
    assert replicas(store) == (10, 3)
    ready(store)
    router(store).set_weight(25)
    assert replicas(store) == (7, 3)
    ready(store)
    view = router(store).observe()
    assert view.canary_weight == 25
    assert view.scales_pods
    assert view.note == "3 canary of 10 pods is 30%, 5 points above the step's 25%"


def test_back_to_zero_does_not_wait_for_a_canary_that_never_gets_ready() -> None:
    store = cluster(primary=5, canary=5)
    obj = store.objects[("apps/v1", "deployments", "ns", "m-primary")]
    obj["metadata"]["annotations"] = {PODS_ANNOTATION: "10", WEIGHT_ANNOTATION: "50"}
    store.objects[("apps/v1", "deployments", "ns", "m")]["status"]["availableReplicas"] = 0

    router(store).set_weight(0)
    assert replicas(store) == (10, 5)
    ready_primary = store.objects[("apps/v1", "deployments", "ns", "m-primary")]
    ready_primary["status"].update(replicas=10, updatedReplicas=10, availableReplicas=10)
    ready_primary["status"]["observedGeneration"] = ready_primary["metadata"]["generation"]
    router(store).set_weight(0)
    assert replicas(store) == (10, 0)


def test_the_pod_total_and_the_weight_survive_a_restart_in_annotations() -> None:
    store = cluster(primary=4)
    for _ in range(3):
        router(store).set_weight(100)
        ready(store)
    assert replicas(store) == (0, 4)
    primary = store.get_object(*DEPLOYMENTS, "ns", "m-primary")
    assert primary is not None
    assert primary["metadata"]["annotations"] == {WEIGHT_ANNOTATION: "100", PODS_ANNOTATION: "4"}
    assert router(store).observe().canary_weight == 100


def service(selector: dict[str, Any]) -> Object:
    return {"metadata": {"name": "imagegen"}, "spec": {"selector": selector}}


def test_a_service_that_misses_an_arm_is_a_routing_error() -> None:
    store = cluster()
    assert router(store, "imagegen").observe().error == "Service imagegen not found"
    store.put("v1", "services", service({"app": "m"}))
    assert router(store, "imagegen").observe().error == (
        "Service imagegen (selector app=m) does not select the primary pods "
        "(app=m-primary,app.kubernetes.io/name=imagegen): select a label both arms carry, "
        "not the Deployment's selector"
    )
    store.put("v1", "services", service({"app.kubernetes.io/name": "imagegen"}))
    assert router(store, "imagegen").observe().error is None
