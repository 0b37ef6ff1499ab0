"""Run Argo CD resource customizations the way Argo CD does, in a real Lua 5.1 interpreter.

Argo CD (util/lua/lua.go) runs health.lua, discovery.lua and action.lua in gopher-lua, a Lua 5.1
implementation, with only these libraries: package, base, table and a "safe" os holding just
os.time and os.date. The object arrives as the global `obj`, converted from JSON (null fields
are absent); the returned table is encoded back to JSON with layeh/gopher-json (an empty table
becomes []), and for actions cleanReturnedObj turns an empty [] back into {} where the live object
had a map. Argo CD then diffs live and returned objects into a JSON merge patch, and sends the
status part of it to the status subresource.

This module reproduces each of those steps around lupa's embedded PUC Lua 5.1.
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

# gopher-lua's base library (Argo CD opens it in full), plus table and a safe os below.
_BASE = (
    *("assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal", "rawget"),
    *("rawset", "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type"),
    *("unpack", "xpcall", "_G", "_VERSION", "require"),
)

_SANDBOX = """
local base, safe_os = ...
local env = {}
for _, name in ipairs(base) do env[name] = _G[name] end
env.table = table
env.os = { time = safe_os.time, date = safe_os.date }
-- No string library: method calls on strings fail, as in Argo CD's VM.
getmetatable("").__index = nil
env._G = env
return env
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


def run_script(script: Path, obj: Json) -> Json:
    """Run one customization script with `obj` as Argo CD does; its return value as JSON."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=False)
    env = runtime.execute(_SANDBOX, runtime.table(*_BASE), runtime.globals().os)
    env.obj = _to_lua(runtime, obj)
    loaded = runtime.globals().loadstring(script.read_text(), "=" + script.name)
    if isinstance(loaded, tuple):  # (nil, message)
        raise LuaError(f"{script}: {loaded[1]}")
    runtime.globals().setfenv(loaded, env)
    outcome = runtime.globals().pcall(loaded)
    ok, result = outcome if isinstance(outcome, tuple) else (outcome, None)
    if not ok:
        raise LuaError(f"{script}: {result}")
    return _from_lua(result)


def health(obj: Json) -> dict[str, str]:
    result = run_script(CUSTOMIZATION / "health.lua", obj)
    assert isinstance(result, dict), f"health.lua returned {result!r}"
    return result


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
