-- Promote full: skip the remaining steps and promote the canary now.
-- Status merge patch: {"promoteFull": true, "pauseConditions": null}
if obj.status == nil then
  obj.status = {}
end
obj.status.promoteFull = true
obj.status.pauseConditions = nil
return obj
