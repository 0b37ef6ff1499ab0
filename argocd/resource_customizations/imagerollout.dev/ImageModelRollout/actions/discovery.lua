-- Argo CD resource actions for imagerollout.dev/ImageModelRollout. Each action sets fields of
-- status; Argo CD sends the difference as a merge patch to the status subresource, exactly what
-- `kubectl patch imr NAME --subresource=status --type=merge` does (see the README).
local actions = {}
local status = obj.status or {}
local phase = status.phase
local paused = status.pauseConditions ~= nil and #status.pauseConditions > 0
local rolling = phase == "Progressing" or phase == "Paused"
local aborted = phase == "Degraded" and status.abort == true

actions["abort"] = {
  ["disabled"] = not rolling,
  ["displayName"] = "Abort (primary 100%)",
  ["iconClass"] = "fa fa-fw fa-times-circle",
}
actions["retry"] = {
  ["disabled"] = not aborted,
  ["displayName"] = "Retry",
  ["iconClass"] = "fa fa-fw fa-redo-alt",
}
actions["promote"] = {
  ["disabled"] = not rolling,
  ["displayName"] = "Promote (next step)",
  ["iconClass"] = "fa fa-fw fa-forward",
}
actions["promote-full"] = {
  ["disabled"] = not rolling,
  ["displayName"] = "Promote full",
  ["iconClass"] = "fa fa-fw fa-fast-forward",
}
actions["pause"] = {
  ["disabled"] = not (phase == "Progressing" and not paused),
  ["displayName"] = "Pause",
  ["iconClass"] = "fa fa-fw fa-pause-circle",
}
actions["resume"] = {
  ["disabled"] = not paused,
  ["displayName"] = "Resume",
  ["iconClass"] = "fa fa-fw fa-play-circle",
}
return actions
