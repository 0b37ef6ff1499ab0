"""Run Argo CD resource customizations the way Argo CD v3.2.12 does, in a real Lua 5.1 interpreter.

Fast stand-in for Argo CD's own engine (tests/packaging/test_argocd_engine.py runs the same cases in
github.com/argoproj/argo-cd/v3/util/lua itself). What it mirrors, from the v3.2.12 sources:

- util/lua/lua.go, VM.runLuaWithResourceActionParameters: a gopher-lua v1.1.1 (Lua 5.1) state made
  with SkipOpenLibs = !UseOpenLibs, then package, base and table opened, then `OpenSafeOs`, then
  `l.PreloadModule("os", SafeOsLoader)`. util/lua/oslib_safe.go's OpenSafeOs calls
  `l.RegisterModule(lua.TabLibName, osFuncs)`: the *table* module, which is already loaded, so
  gopher-lua's RegisterModule (auxlib.go) returns it untouched. So there is no global `os`, and
  `local os = require("os")` returns a table with only `time` and `date`.
- Which scripts get UseOpenLibs: never an action or discovery script (server/application/
  application.go builds `lua.VM{ResourceOverrides: ...}` for getAvailableActions and
  RunResourceActionV2); a health script only when it is built into Argo CD
  (lua.go GetHealthScript returns true for its embedded resource_customizations) or when argocd-cm
  sets `resource.customizations.useOpenLibs.<group_kind>: "true"` (util/settings/settings.go).
  argocd/argocd-cm-patch.yaml does not, so as the project ships them no script has a global
  `os`, `string` or `math`; without the string library, string methods (`s:upper()`) fail too.
- With the libraries open (`open_libs=True`), gopher-lua's OpenLibs (linit.go) has opened io, os,
  string, math, debug and coroutine first, so they are globals (`os` the full one); reopening
  package then replaced package.loaded, so require("os") still gives the safe os.
- The object arrives as the global `obj`, decoded from JSON (lua.go decodeValue: null fields are
  absent); the returned table is encoded with layeh/gopher-json (an empty table becomes [], arrays
  need keys 1..n, a table reached twice is an error); for actions cleanReturnedObj turns an empty
  [] back into {} where the live object had a map. ExecuteHealthLua keeps status and message and
  turns an unknown status into Unknown. The API server then diffs live and returned objects into a
  JSON merge patch and sends its status part to the status subresource.

Left out: gopher-lua's own globals `_printregs`, `module` and `channel`, package.path's file
loader, action parameters (`actionParams` is always empty) and the VM's 1 s time limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa import lua51  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[2]
CUSTOMIZATION = (
    REPO_ROOT / "argocd" / "resource_customizations" / "imagerollout.dev" / "ImageModelRollout"
)
ACTIONS = CUSTOMIZATION / "actions"

Json = Any

# gopher-lua's base library (baselib.go baseFuncs and OpenBase), bar module and _printregs.
_BASE = (
    *("assert", "collectgarbage", "dofile", "error", "getfenv", "getmetatable", "ipairs"),
    *("load", "loadfile", "loadstring", "newproxy", "next", "pairs", "pcall", "print"),
    *("rawequal", "rawget", "rawset", "select", "setfenv", "setmetatable", "tonumber"),
    *("tostring", "type", "unpack", "xpcall"),
)
# gopher-lua's table library (tablelib.go), smaller than PUC Lua's.
_TABLE = ("concat", "getn", "insert", "maxn", "remove", "sort")
# The libraries gopher-lua's OpenLibs adds (linit.go), bar its own `channel`.
_OPEN_LIBS = ("io", "os", "string", "math", "debug", "coroutine")
# ExecuteHealthLua's isValidHealthStatusCode (gitops-engine's health codes).
HEALTH_CODES = {"Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing"}

_SANDBOX = """
local base, tablelib, openlibs, open = ...
local env = {}
for _, name in ipairs(base) do env[name] = _G[name] end
env._G = env
env._VERSION = "Lua 5.1"
env._GOPHER_LUA_VERSION = "GopherLua 0.1"
env.actionParams = {}  -- the action's parameters (none here); set for every script
env.table = {}
for _, name in ipairs(tablelib) do env.table[name] = table[name] end
local safe_time, safe_date = os.time, os.date
-- package.loaded as the VM leaves it: OpenPackage made a new one, then base and table registered.
local package = {
  loaded = { _G = env, table = env.table },
  preload = {
    os = function() return { time = safe_time, date = safe_date } end,  -- SafeOsLoader
  },
  path = "./?.lua", cpath = "", config = "/\\n;\\n?\\n!\\n-\\n",
}
env.package = package
-- Chunks loaded at run time see the same globals (in gopher-lua there is only the one).
env.loadstring = function(text, name)
  local chunk, message = loadstring(text, name)
  if chunk then setfenv(chunk, env) end
  return chunk, message
end
env.load = function(fn, name)
  local chunk, message = load(fn, name)
  if chunk then setfenv(chunk, env) end
  return chunk, message
end
env.loadfile = function(path)
  local chunk, message = loadfile(path)
  if chunk then setfenv(chunk, env) end
  return chunk, message
end
env.dofile = function(path) return assert(env.loadfile(path))() end
env.getfenv = function(f)
  if f == 0 then return env end
  if type(f) == "number" then f = f + 1 end
  return getfenv(f or 2)
end
env.require = function(name)  -- gopher-lua's loRequire, with only the preload loader
  local value = package.loaded[name]
  if value then return value end
  local loader = package.preload[name]
  if loader == nil then
    local missing = "no field package.preload['" .. tostring(name) .. "']"
    error("module " .. tostring(name) .. " not found:\\n\\t" .. missing, 2)
  end
  value = loader(name)
  if value == nil then value = true end
  package.loaded[name] = value
  return value
end
if open then
  for _, name in ipairs(openlibs) do env[name] = _G[name] end
else
  -- No string library: method calls on strings fail, as in Argo CD's VM.
  getmetatable("").__index = nil
end
return env
"""

# layeh/gopher-json's checks before encoding (json.go jsonValue.MarshalJSON).
_CHECK_ENCODABLE = """
local value = ...
local visited = {}
local function check(v)
  local t = type(v)
  if t == "table" then
    if visited[v] then error("cannot encode recursively nested tables to JSON", 0) end
    visited[v] = true
    local first = next(v)
    if type(first) == "number" then
      local n = 0
      for k in pairs(v) do
        if type(k) ~= "number" then error("cannot encode mixed or invalid key types", 0) end
        n = n + 1
      end
      for i = 1, n do
        if v[i] == nil then error("cannot encode sparse array", 0) end
      end
    elseif first ~= nil then
      for k in pairs(v) do
        if type(k) ~= "string" then error("cannot encode mixed or invalid key types", 0) end
      end
    end
    for _, item in pairs(v) do check(item) end
  elseif t ~= "nil" and t ~= "boolean" and t ~= "number" and t ~= "string" then
    error("cannot encode " .. t .. " to JSON", 0)
  end
end
check(value)
"""


class LuaError(RuntimeError):
    pass


def lua_version() -> str:
    version: str = lua51.LuaRuntime().eval("_VERSION")
    return version


def _to_lua(runtime: Any, value: Json) -> Any:
    if isinstance(value, dict):
        table = runtime.table()
        for key, item in value.items():
            if item is not None:  # JSON null: the key is absent in Lua
                table[key] = _to_lua(runtime, item)
        return table
    if isinstance(value, list):
        table = runtime.table()
        for index, item in enumerate(value, start=1):
            table[index] = _to_lua(runtime, item)
        return table
    return value


def _from_lua(value: Any) -> Json:
    """layeh/gopher-json's encoding: [] for an empty table, arrays need keys 1..n."""
    if lua51.lua_type(value) != "table":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    keys = list(value.keys())
    if not keys:
        return []
    if all(isinstance(k, (int, float)) for k in keys):
        if sorted(keys) != list(range(1, len(keys) + 1)):
            raise LuaError(f"table keys {keys} are not an array")
        return [_from_lua(value[i]) for i in range(1, len(keys) + 1)]
    if all(isinstance(k, str) for k in keys):
        return {k: _from_lua(value[k]) for k in keys}
    raise LuaError(f"table mixes key types: {keys}")


def _clean(new: Json, live: Json) -> Json:
    """Argo CD's cleanReturnedObj/cleanReturnedArray: [] where live had a map becomes the map."""
    if isinstance(new, dict) and isinstance(live, dict):
        for key in list(new):
            if key not in live:
                continue
            if isinstance(new[key], dict) and isinstance(live[key], dict):
                new[key] = _clean(new[key], live[key])
            elif isinstance(new[key], list):
                if isinstance(live[key], dict) and not new[key]:
                    new[key] = live[key]
                elif isinstance(live[key], list):
                    new[key] = _clean(new[key], live[key])
    elif isinstance(new, list) and isinstance(live, list):
        for i, item in enumerate(new):
            if i < len(live) and isinstance(item, (dict, list)):
                new[i] = _clean(item, live[i])
    return new


def run_script(script: Path, obj: Json, *, open_libs: bool = False) -> Json:
    """Run one customization script with `obj` as Argo CD does; its return value as JSON.

    open_libs: the VM's UseOpenLibs, true only for a health script built into Argo CD (or one
    argocd-cm marks useOpenLibs); the project's scripts, registered by argocd-cm-patch.yaml, run
    without.
    """
    runtime = lua51.LuaRuntime(unpack_returned_tuples=False)
    env = runtime.execute(
        _SANDBOX,
        runtime.table(*_BASE),
        runtime.table(*_TABLE),
        runtime.table(*_OPEN_LIBS),
        open_libs,
    )
    env.obj = _to_lua(runtime, obj)
    loaded = runtime.globals().loadstring(script.read_text(), "=" + script.name)
    if isinstance(loaded, tuple):  # (nil, message)
        raise LuaError(f"{script}: {loaded[1]}")
    runtime.globals().setfenv(loaded, env)
    outcome = runtime.globals().pcall(loaded)
    ok, result = outcome if isinstance(outcome, tuple) else (outcome, None)
    if not ok:
        raise LuaError(f"{script}: {result}")
    checked = runtime.globals().pcall(runtime.compile(_CHECK_ENCODABLE), result)
    if checked is not True:
        raise LuaError(f"{script}: {checked[1]}")
    return _from_lua(result)


def health_status(result: Json) -> dict[str, str]:
    """ExecuteHealthLua's reading of a health script's value (nil or {} is an empty status)."""
    if result is None or result == []:
        return {}
    assert isinstance(result, dict), f"health.lua returned {result!r}"
    if result.get("status") not in HEALTH_CODES:
        return {"status": "Unknown", "message": "Lua returned an invalid health status"}
    return {k: result[k] for k in ("status", "message") if result.get(k)}


def health(obj: Json, *, open_libs: bool = False) -> dict[str, str]:
    return health_status(run_script(CUSTOMIZATION / "health.lua", obj, open_libs=open_libs))


def discover(obj: Json) -> dict[str, dict[str, Any]]:
    """discovery.lua's actions, as Argo CD lists them (disabled defaults to false)."""
    result = run_script(ACTIONS / "discovery.lua", obj)
    if result == []:
        return {}
    assert isinstance(result, dict), f"discovery.lua returned {result!r}"
    return {name: {"disabled": False, **spec} for name, spec in result.items()}


def run_action(action: str, obj: Json) -> Json:
    """The object action.lua returns, cleaned as Argo CD cleans it."""
    returned = run_script(ACTIONS / action / "action.lua", obj)
    assert isinstance(returned, dict), f"{action}/action.lua returned {returned!r}"
    return _clean(returned, obj)


def merge_patch(live: Json, new: Json) -> Json:
    """RFC 7386 merge patch turning live into new (what jsonpatch.CreateMergePatch computes)."""
    if not isinstance(live, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Json] = {}
    for key in live.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in live:
            patch[key] = value
        elif live[key] != value:
            if isinstance(live[key], dict) and isinstance(value, dict):
                patch[key] = merge_patch(live[key], value)
            else:
                patch[key] = value
    return patch


def apply_merge_patch(target: Json, patch: Json) -> Json:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def action_patches(action: str, live: Json) -> tuple[Json, Json]:
    """(status patch, patch of everything else) that Argo CD sends for an action on live."""
    patch = merge_patch(live, run_action(action, live))
    status = {"status": patch.pop("status")} if "status" in patch else {}
    return status, patch
