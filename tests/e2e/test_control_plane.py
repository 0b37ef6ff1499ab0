"""The local control plane behaves like a cluster: Deployments get Ready pods (via the
controller manager, scheduler and kwok) and the Gateway API CRDs are served."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers import Cluster, wait_for

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:1.0
        resources:
          requests: {cpu: 100m, memory: 64Mi}
"""


@pytest.mark.e2e
def test_deployment_gets_two_ready_replicas(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=DEPLOYMENT)

    def ready_replicas() -> bool:
        out = cluster.kubectl(
            "-n", namespace, "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}"
        ).stdout
        return out.strip() == "2"

    wait_for(ready_replicas, timeout=90, description=f"deployment {namespace}/web with 2 ready")

    pods = json.loads(cluster.kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)
    assert len(pods["items"]) == 2
    for pod in pods["items"]:
        assert pod["spec"]["nodeName"], "scheduler bound the pod to the kwok node"
        assert pod["status"]["phase"] == "Running"


@pytest.mark.e2e
def test_httproute_crd_is_established(cluster: Cluster) -> None:
    crd = cluster.get_json("crd", "httproutes.gateway.networking.k8s.io")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions.get("Established") == "True"
    assert crd["spec"]["group"] == "gateway.networking.k8s.io"
    # And the API is actually served.
    resources = cluster.kubectl("api-resources", "--api-group=gateway.networking.k8s.io").stdout
    assert "httproutes" in resources
