-- Resume: end a manual pause, or a step paused without a duration.
-- Status merge patch: {"pauseConditions": null}
if obj.status == nil then
  obj.status = {}
end
obj.status.pauseConditions = nil
return obj
