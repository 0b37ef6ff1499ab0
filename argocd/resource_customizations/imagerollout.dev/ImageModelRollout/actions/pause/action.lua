-- Pause: hold the current step until resume or promote.
-- Status merge patch: {"pauseConditions": [{"reason": "ManualPause", "startTime": <now, UTC>}]}
-- Argo CD's VM has no global os: require("os") gives its safe os (only time and date).
local os = require("os")
if obj.status == nil then
  obj.status = {}
end
obj.status.pauseConditions = {
  { reason = "ManualPause", startTime = os.date("!%Y-%m-%dT%H:%M:%SZ") },
}
return obj
