"""A rolled-back rollout as the API returns it, and a fake Kube for the plugin's commands."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from imagerollout.kube.client import ApiError, Kube

Object = dict[str, Any]

GATE: Object = {
    "samples": 128,
    "baseline": "95.0",
    "canary": "55.0",
    "effect": "-40.0",
    "lower": "-58.1",
    "upper": "-21.9",
}
ROLLOUT: Object = {
    "apiVersion": "imagerollout.dev/v1alpha1",
    "kind": "ImageModelRollout",
    "metadata": {"name": "imagegen", "namespace": "team-a", "generation": 1},
    "spec": {
        "targetRef": {"name": "imagegen"},
        "service": {"port": 8080},
        "trafficRouting": {"gatewayAPI": {"httpRoute": {"name": "imagegen"}}},
        "steps": [{"weight": 5, "pause": {"duration": "10s"}}, {"weight": 50}, {"weight": 100}],
    },
    "status": {
        "phase": "Degraded",
        "message": "gate text/logos failed: canary 55.0 vs baseline 95.0",
        "canaryWeight": 0,
        "currentStepIndex": 1,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "AnalysisFailed",
                "message": "text/logos: canary 0.00 vs baseline 1.00, Fail after 32 pairs",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
        "stable": {"revision": "aaaaaaaaaa", "model": "registry.example/imagegen:v1"},
        "canary": {"revision": "bbbbbbbbbb", "model": "registry.example/imagegen:v3"},
        "analysis": {
            "outcome": "Rollback",
            "samples": 128,
            "maxSamples": 2000,
            "gates": [
                {**GATE, "gate": "errors", "verdict": "Pass"},
                {**GATE, "gate": "text/logos", "verdict": "Fail", "samples": 32},
                {**GATE, "gate": "text/typography", "verdict": "Pass", "samples": 64},
                {**GATE, "gate": "text", "verdict": "Fail", "samples": 96},
                {**GATE, "gate": "latency", "verdict": "Inconclusive"},
            ],
        },
        "metrics": {
            "evaluations": 3,
            "windowSeconds": 30,
            "gates": [
                {
                    "gate": "p95",
                    "verdict": "Pass",
                    "canary": "0.41",
                    "baseline": "0.40",
                    "bound": "0.50",
                    "canaryCount": 60,
                    "baselineCount": 540,
                    "windows": 2,
                }
            ],
        },
    },
}


def rollout(**status: Any) -> Object:
    obj = copy.deepcopy(ROLLOUT)
    obj["status"].update(status)
    return obj


class FakeKube(Kube):
    """The calls of Kube the plugin uses, on dicts, recording the patches it sends."""

    def __init__(self, *rollouts: Object, changes: list[Object] | None = None) -> None:
        super().__init__()  # an unconfigured client: any call not faked here fails
        self.rollouts = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in rollouts}
        self.changes = changes or []
        self.patches: list[tuple[str, str, Object]] = []
        self.objects: dict[tuple[str, str, str], Object] = {}
        self.dry_runs: list[Object] = []
        self.reject: str | None = None

    def get_rollout(self, namespace: str, name: str) -> Object | None:
        return self.rollouts.get((namespace, name))

    def list_rollouts(self, namespace: str | None) -> list[Object]:
        return [r for (ns, _), r in self.rollouts.items() if namespace in (None, ns)]

    def patch_rollout_status(self, namespace: str, name: str, status: Object) -> Object:
        self.patches.append((namespace, name, status))
        return {}

    def watch_rollout(self, namespace: str, name: str, timeout: float) -> Iterator[Object]:
        yield from self.changes

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> Object | None:
        return self.objects.get((plural, namespace, name))

    def dry_run_apply(self, obj: Object) -> Object:
        self.dry_runs.append(obj)
        if self.reject:
            raise ApiError(422, self.reject)
        return obj
