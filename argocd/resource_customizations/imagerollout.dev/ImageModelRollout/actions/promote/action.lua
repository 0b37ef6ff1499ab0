-- Promote: complete the current step (also ends a pause).
-- Status merge patch: {"promoteStep": true, "pauseConditions": null}
if obj.status == nil then
  obj.status = {}
end
obj.status.promoteStep = true
obj.status.pauseConditions = nil
return obj
