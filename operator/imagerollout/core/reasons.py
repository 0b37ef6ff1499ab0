"""Condition types and the CamelCase reasons shared by conditions and Events."""

from typing import Final

# Condition types.
PROGRESSING: Final = "Progressing"
PAUSED: Final = "Paused"
AVAILABLE: Final = "Available"
PROMOTED: Final = "Promoted"
INVALID_SPEC: Final = "InvalidSpec"

# Reasons (also Event reasons).
INITIALIZING: Final = "Initializing"
INITIALIZED: Final = "Initialized"
ROLLOUT_STARTED: Final = "RolloutStarted"
ROLLOUT_RESTARTED: Final = "RolloutRestarted"
ROLLOUT_RETRIED: Final = "RolloutRetried"
TRAFFIC_WEIGHT_UPDATED: Final = "TrafficWeightUpdated"
STEP_COMPLETED: Final = "StepCompleted"
WAITING_FOR_CANARY: Final = "WaitingForCanary"
ROLLOUT_PAUSED: Final = "RolloutPaused"
ROLLOUT_RESUMED: Final = "RolloutResumed"
PROMOTION_REQUESTED: Final = "PromotionRequested"
ROLLOUT_PROMOTING: Final = "RolloutPromoting"
ROLLOUT_PROMOTED: Final = "RolloutPromoted"
ROLLOUT_ABORTED: Final = "RolloutAborted"
ROLLOUT_CANCELLED: Final = "RolloutCancelled"
PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"
TARGET_NOT_FOUND: Final = "TargetNotFound"
TRAFFIC_ROUTING_ERROR: Final = "TrafficRoutingError"
SPEC_VALID: Final = "SpecValid"
PRIMARY_AVAILABLE: Final = "PrimaryAvailable"
PRIMARY_UNAVAILABLE: Final = "PrimaryUnavailable"

# Pause reasons (status.pauseConditions[].reason).
MANUAL_PAUSE: Final = "ManualPause"
CANARY_PAUSE_STEP: Final = "CanaryPauseStep"

# Quality gates.
ANALYSIS_FAILED: Final = "AnalysisFailed"
ANALYSIS_INCONCLUSIVE: Final = "AnalysisInconclusive"
ANALYSIS_EXTENDED: Final = "AnalysisExtended"
GATE_PASSED: Final = "GatePassed"
GATE_FAILED: Final = "GateFailed"
STAGE0: Final = "Stage0"
INCONCLUSIVE_ANALYSIS: Final = "InconclusiveAnalysis"
ANALYSIS_ERROR: Final = "AnalysisError"
SAMPLER_POLICY_WARNING: Final = "SamplerPolicyWarning"
SAMPLER_POLICY_BLOCKED: Final = "SamplerPolicyBlocked"

# Production-traffic (metric provider) gates.
METRICS_FAILED: Final = "MetricsAnalysisFailed"
METRICS_INCONCLUSIVE: Final = "MetricsInconclusive"
METRICS_CONCLUSIVE: Final = "MetricsConclusive"
METRIC_GATE_FAILED: Final = "MetricGateFailed"
METRIC_GATES_PASSED: Final = "MetricGatesPassed"
INCONCLUSIVE_METRICS: Final = "InconclusiveMetrics"

# Notifications and gate webhooks.
NOTIFICATION_FAILED: Final = "NotificationFailed"
WAITING_FOR_WEBHOOK: Final = "WaitingForWebhook"
WEBHOOK_PASSED: Final = "WebhookPassed"
WEBHOOK_FAILED: Final = "WebhookFailed"
WEBHOOK_NOT_ALLOWED: Final = "WebhookNotAllowed"
ROLLBACK_WEBHOOK: Final = "RollbackWebhook"

# Capabilities (spec.capabilities).
CAPABILITY_ROUTED: Final = "CapabilityRouted"
CAPABILITY_PINNED: Final = "CapabilityPinned"
CAPABILITY_RELEASED: Final = "CapabilityReleased"
FALLBACK_LOST: Final = "FallbackLost"

# Actions the API server refused (a quota, an admission policy): the condition and its event.
ACTION_FAILED: Final = "ActionFailed"
ACTION_REJECTED: Final = "ActionRejected"
ACTIONS_APPLIED: Final = "ActionsApplied"
