-- Resume: end a manual pause, or a step paused without a duration.
-- Status merge patch: {"pauseConditions": null}
-- Without a status there is no pause to end, and an empty status table would reach Argo CD's
-- merge patch as "status": [] (gopher-json encodes an empty table as an array).
if obj.status ~= nil then
  obj.status.pauseConditions = nil
end
return obj
