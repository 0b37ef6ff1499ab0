"""A namespace with the demo model Deployment, its HTTPRoute, a rollout and the operator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from tests.e2e.helpers import REPO_ROOT, Cluster, wait_for
from tests.e2e.operator_process import OperatorProcess

DEMO = REPO_ROOT / "demo"
NAME = "imagegen"


def rollout_manifest(steps: list[dict[str, Any]], deadline: str = "2m") -> str:
    manifest = yaml.safe_load((DEMO / "rollout.yaml").read_text())
    manifest["spec"]["steps"] = steps
    manifest["spec"]["progressDeadline"] = deadline
    return yaml.safe_dump(manifest)


def timed_steps(*weights: int, hold: str = "2s") -> list[dict[str, Any]]:
    return [{"weight": w, "pause": {"duration": hold}} for w in weights]


@dataclass
class RolloutEnv:
    cluster: Cluster
    namespace: str
    operator: OperatorProcess

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.cluster.kubectl("-n", self.namespace, *args, input=input).stdout

    def get(self, kind: str, name: str = NAME) -> dict[str, Any]:
        return self.cluster.get_json("-n", self.namespace, kind, name)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.get("imr").get("status", {})
        return status

    def wait_phase(self, phase: str, timeout: float = 90) -> dict[str, Any]:
        return wait_for(
            lambda: self.status() if self.status().get("phase") == phase else None,
            timeout,
            0.2,
            f"phase {phase}",
        )

    def route_weights(self) -> dict[str, int]:
        rules = self.get("httproute")["spec"]["rules"]
        return {b["name"]: b.get("weight", 1) for r in rules for b in r["backendRefs"]}

    def set_model(self, version: str) -> None:
        self.kubectl(
            "set", "image", f"deployment/{NAME}", f"model=registry.example/imagegen:{version}"
        )

    def patch_status(self, status: dict[str, Any]) -> None:
        patch = json.dumps({"status": status})
        self.kubectl("patch", "imr", NAME, "--subresource=status", "--type=merge", "-p", patch)

    def events(self) -> list[dict[str, Any]]:
        selector = f"involvedObject.kind=ImageModelRollout,involvedObject.name={NAME}"
        items: list[dict[str, Any]] = self.cluster.get_json(
            "-n", self.namespace, "events", "--field-selector", selector
        )["items"]
        return sorted(
            items,
            key=lambda e: (
                e["metadata"]["creationTimestamp"],
                int(e["metadata"]["resourceVersion"]),
            ),
        )

    def event_reasons(self) -> list[str]:
        return [e["reason"] for e in self.events()]

    def deploy_judged(self, **spec: Any) -> None:
        """The demo with 1s steps at 5, 25, 50 and 100% and the given spec fields (analysis,
        metrics); returns once the rollout is Initialized."""
        manifest = yaml.safe_load((DEMO / "rollout.yaml").read_text())
        manifest["spec"]["steps"] = timed_steps(5, 25, 50, 100, hold="1s")
        manifest["spec"].update(spec)
        self.kubectl("apply", "-f", str(DEMO / "imagegen.yaml"))
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
        self.wait_phase("Initialized")

    def deploy(self, steps: list[dict[str, Any]], deadline: str = "2m") -> None:
        self.kubectl("apply", "-f", str(DEMO / "imagegen.yaml"))
        self.kubectl("apply", "-f", "-", input=rollout_manifest(steps, deadline))
        self.wait_phase("Initialized")
        wait_for(
            lambda: self.get("deployment")["spec"]["replicas"] == 0,
            30,
            0.2,
            "target scaled to 0 after initialization",
        )
