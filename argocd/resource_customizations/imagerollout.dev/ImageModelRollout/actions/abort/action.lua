-- Abort: the primary gets 100%, the canary scales to 0, the phase becomes Degraded.
-- Status merge patch: {"abort": true}
if obj.status == nil then
  obj.status = {}
end
obj.status.abort = true
return obj
