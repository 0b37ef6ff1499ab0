-- Retry an aborted rollout: the same canary starts again from step 1.
-- Status merge patch: {"abort": false}
if obj.status == nil then
  obj.status = {}
end
obj.status.abort = false
return obj
