"""On-call controls as status patches, the way Argo Rollouts' plugin sets its status fields.

The Argo CD actions (argocd/) send the same patches; tests hold the two to each other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imagerollout.core.durations import format_time
from imagerollout.core.reasons import MANUAL_PAUSE
from imagerollout.kube.client import Kube

CONTROLS: dict[str, dict[str, Any]] = {
    "promote": {"promoteStep": True, "pauseConditions": None},
    "promote-full": {"promoteFull": True, "pauseConditions": None},
    "abort": {"abort": True},
    "retry": {"abort": False},
    "pause": {"pauseConditions": [{"reason": MANUAL_PAUSE, "startTime": None}]},
    "resume": {"pauseConditions": None},
}


def control_patch(action: str, now: datetime) -> dict[str, Any]:
    """The status merge patch for one action; a pause is stamped with its start time."""
    patch = dict(CONTROLS[action])
    if action == "pause":
        patch["pauseConditions"] = [{"reason": MANUAL_PAUSE, "startTime": format_time(now)}]
    return patch


def apply_control(kube: Kube, namespace: str, name: str, action: str) -> str:
    if kube.get_rollout(namespace, name) is None:
        raise LookupError(f"imagemodelrollout {namespace}/{name} not found")
    kube.patch_rollout_status(namespace, name, control_patch(action, datetime.now(UTC)))
    return f"imagemodelrollout {namespace}/{name}: {action} requested"
