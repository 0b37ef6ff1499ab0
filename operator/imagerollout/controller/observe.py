"""Turn API objects into the plain observations the decision core reads."""

from __future__ import annotations

from typing import Any

from imagerollout.core.observations import DeploymentView
from imagerollout.core.rollout.revision import template_model, template_revision
from imagerollout.kube.objects import REVISION_ANNOTATION

Object = dict[str, Any]


def deployment_view(obj: Object | None, primary: bool = False) -> DeploymentView | None:
    if obj is None:
        return None
    spec = obj.get("spec", {})
    template = spec.get("template", {})
    annotations = obj["metadata"].get("annotations") or {}
    revision = annotations.get(REVISION_ANNOTATION, "") if primary else template_revision(template)
    return DeploymentView(
        revision=revision,
        model=template_model(template),
        replicas=int(spec.get("replicas", 1)),
        ready=_rolled_out(obj),
        template=template,
        selector=spec.get("selector", {}).get("matchLabels", {}),
    )


def _rolled_out(obj: Object) -> bool:
    """Every wanted pod runs the current template and is available; no old pods remain."""
    want = int(obj.get("spec", {}).get("replicas", 1))
    status = obj.get("status", {})
    current = status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
    counts = (status.get(k, 0) for k in ("replicas", "updatedReplicas", "availableReplicas"))
    return current and all(count == want for count in counts)
