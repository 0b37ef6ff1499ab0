"""Turn API objects into the plain observations the decision core reads."""

from __future__ import annotations

from typing import Any

from imagerollout.core.observations import DeploymentView
from imagerollout.core.rollout.revision import template_model, template_revision
from imagerollout.kube.objects import REVISION_ANNOTATION, rolled_out

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
        ready=rolled_out(obj),
        template=template,
        selector=spec.get("selector", {}).get("matchLabels", {}),
    )
