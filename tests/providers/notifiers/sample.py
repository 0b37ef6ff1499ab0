"""A rollback notification as the core makes it, for the providers' payload tests."""

from __future__ import annotations

from imagerollout.api.notifications import Trigger
from imagerollout.core.notifications import GateNumbers, Notification

TEXT = GateNumbers(
    gate="text/logos",
    kind="quality",
    verdict="Fail",
    numbers=(
        ("pairs", "64"),
        ("baseline", "0.95"),
        ("canary", "0.25"),
        ("effect", "-0.7"),
        ("bounds", "[-0.82, -0.55]"),
    ),
)
ROLLBACK = Notification(
    trigger=Trigger.ROLLED_BACK,
    namespace="prod",
    name="imagegen",
    reason="AnalysisFailed",
    message="text/logos failed <@here> & more at step 2; canary 0%, primary 100%",
    phase="Degraded",
    step=2,
    steps=4,
    canary_weight=0,
    stable_model="registry.example/imagegen:v1",
    canary_model="registry.example/imagegen:v2",
    gates=(TEXT,),
    time="2025-06-01T12:00:00Z",
)
