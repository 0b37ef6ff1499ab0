"""The Argo CD health check and actions, run in Argo CD's own Lua VM (argo-cd v3.2.12 util/lua).

tools/argocd-lua, built from the argo-cd Go module by scripts/build-argocd-lua.sh (part of
`make deps`; the first test builds it if it is missing, and fails if it cannot), runs each script
twice: as the files under argocd/resource_customizations are (the way Argo CD runs its built-in
scripts) and as argocd/argocd-cm-patch.yaml registers them (read back by Argo CD's settings
manager, run through the VM's ResourceOverrides). Every case of health_test.yaml and
action_test.yaml runs in both; so does every action the test files leave out, and every action on
every action input. The Python harness (tests/packaging/argocd_lua.py) must agree with the engine
on all of them, and on what a script's environment holds.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from imagerollout.cli.controls import CONTROLS
from imagerollout.core import reasons
from tests.packaging.argocd_cm import KEY, PATCH_FILE
from tests.packaging.argocd_lua import (
    ACTIONS,
    CUSTOMIZATION,
    REPO_ROOT,
    LuaError,
    action_patches,
    apply_merge_patch,
    discover,
    health,
    health_status,
    run_action,
    run_script,
)

BUILD = REPO_ROOT / "scripts" / "build-argocd-lua.sh"
RESOURCE_CUSTOMIZATIONS = CUSTOMIZATION.parents[1]
# How Argo CD finds the scripts: the files as they are, or the argocd-cm patch.
SOURCES = {"files": RESOURCE_CUSTOMIZATIONS, "configmap": PATCH_FILE}
MODES = sorted(SOURCES)

Json = Any


class _Loader(yaml.SafeLoader):
    """YAML as sigs.k8s.io/yaml reads it into JSON: timestamps stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_Loader)
    return loaded


HEALTH_TESTS: list[dict[str, Any]] = load(CUSTOMIZATION / "health_test.yaml")["tests"]
ACTION_TESTS: dict[str, list[dict[str, Any]]] = load(ACTIONS / "action_test.yaml")
DISCOVERY_TESTS = ACTION_TESTS["discoveryTests"]
ACTION_CASES = ACTION_TESTS["actionTests"]
ACTION_NAMES = sorted(p.name for p in ACTIONS.iterdir() if (p / "action.lua").is_file())
# Every action input (the expected outputs are named <input>_<action>.yaml).
ACTION_INPUTS = sorted(
    p.stem
    for p in (ACTIONS / "testdata").glob("*.yaml")
    if not any(p.stem.endswith(f"_{name}") for name in ACTION_NAMES)
)
UNTESTED_ACTIONS = sorted(set(ACTION_NAMES) - {case["action"] for case in ACTION_CASES})


@functools.cache
def engine_binary() -> Path:
    """scripts/build-argocd-lua.sh: the cached binary (built on first use; never skipped)."""
    proc = subprocess.run([str(BUILD)], capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{BUILD} exited {proc.returncode}: Argo CD's Lua engine could not be built, and "
            f"these tests need it (make deps builds it):\n{proc.stderr[-3000:]}"
        )
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.is_file(), f"{BUILD.name} printed {path}, which is not a file"
    return path


def batch(source: Path, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run requests ({op, obj, action}) in the engine; each result is {result} or {error}."""
    proc = subprocess.run(
        [str(engine_binary()), "batch", str(source)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"argocd-lua batch {source} exited {proc.returncode}: {proc.stderr}"
    )
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(requests)
    return results


def request(op: str, input_path: str, action: str = "") -> dict[str, Any]:
    base = CUSTOMIZATION if op == "health" else ACTIONS
    return {"op": op, "obj": load(base / input_path), "action": action, "path": input_path}


def key(op: str, input_path: str, action: str = "") -> str:
    return f"{op}:{action}:{input_path}"


STANDARD = [
    *(request("health", case["inputPath"]) for case in HEALTH_TESTS),
    *(request("discovery", case["inputPath"]) for case in DISCOVERY_TESTS),
    *(
        request("action", f"testdata/{name}.yaml", action)
        for action in ACTION_NAMES
        for name in ACTION_INPUTS
    ),
]


@functools.cache
def standard(mode: str) -> dict[str, dict[str, Any]]:
    """Every standard request, run in one engine process per mode."""
    requests = [{k: v for k, v in r.items() if k != "path"} for r in STANDARD]
    results = batch(SOURCES[mode], requests)
    return {
        key(r["op"], r["path"], r["action"]): out for r, out in zip(STANDARD, results, strict=True)
    }


def engine(mode: str, op: str, input_path: str, action: str = "") -> Json:
    """The engine's result for a standard request; a script error fails the test."""
    out = standard(mode)[key(op, input_path, action)]
    assert "error" not in out, f"Argo CD's engine ({mode}): {op} {action} {input_path}: {out}"
    return json.loads(json.dumps(out["result"]))  # a copy: the cached results stay as they were


def by_name(actions: Json) -> dict[str, dict[str, Any]]:
    """Discovered actions by name; appv1.ResourceAction omits `disabled` when false."""
    return {
        a["name"]: {"disabled": False, **{k: v for k, v in a.items() if k != "name"}}
        for a in actions
    }


def only_patch(impacted: Json) -> dict[str, Any]:
    """The one impacted resource of an old-style action: a patch of the object itself."""
    assert isinstance(impacted, list), impacted
    assert len(impacted) == 1, impacted
    (item,) = impacted
    assert item["operation"] == "patch"
    assert isinstance(item, dict)
    return item


def case_id(case: dict[str, Any]) -> str:
    return Path(str(case["inputPath"])).stem


def test_the_engine_is_argo_cd_v3_2_12() -> None:
    proc = subprocess.run(
        [str(engine_binary()), "version"], capture_output=True, text=True, check=True
    )
    assert json.loads(proc.stdout) == {"argocd": "v3.2.12"}
    go_mod = (REPO_ROOT / "tools" / "argocd-lua" / "go.mod").read_text()
    assert re.search(r"^\s*github\.com/argoproj/argo-cd/v3 v3\.2\.12$", go_mod, re.M)


def test_every_action_runs_in_the_engine_including_pause() -> None:
    assert "pause" in UNTESTED_ACTIONS, "pause is checked against the clock below"
    assert sorted(CONTROLS) == ACTION_NAMES
    assert {"progressing", "paused_manual", "paused_step", "no_status"} <= set(ACTION_INPUTS)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", HEALTH_TESTS, ids=case_id)
def test_health(mode: str, case: dict[str, Any]) -> None:
    assert engine(mode, "health", case["inputPath"]) == case["healthStatus"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", DISCOVERY_TESTS, ids=case_id)
def test_discovery(mode: str, case: dict[str, Any]) -> None:
    got = by_name(engine(mode, "discovery", case["inputPath"]))
    expected = {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in case["result"]}
    assert got == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "case", ACTION_CASES, ids=lambda c: f"{c['action']}-{Path(c['inputPath']).stem}"
)
def test_action(mode: str, case: dict[str, Any]) -> None:
    item = only_patch(engine(mode, "action", case["inputPath"], case["action"]))
    expected = load(ACTIONS / case["expectedOutputPath"])
    assert item["resource"] == expected
    assert "nonStatusPatch" not in item, "an action must change status only"
    if expected == load(ACTIONS / case["inputPath"]):
        assert item["mergePatch"] == {}, "nothing to send"
        assert "statusPatch" not in item
    else:
        assert item["statusPatch"] == item["mergePatch"] != {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("input_name", ["progressing", "paused_step", "no_status"])
def test_pause(mode: str, input_name: str) -> None:
    """Pause (no fixed expected output: it stamps the time) patches exactly pauseConditions."""
    before = datetime.now(UTC).replace(microsecond=0)
    # Not a standard (cached) request: the clock must be read around this very run.
    (out,) = batch(SOURCES[mode], [{"op": "action", "action": "pause", **_obj(input_name)}])
    after = datetime.now(UTC)
    assert "error" not in out, f"Argo CD's engine ({mode}): pause on {input_name}: {out}"
    item = only_patch(out["result"])
    assert "nonStatusPatch" not in item
    assert item["statusPatch"] == item["mergePatch"]
    (condition,) = item["mergePatch"]["status"].pop("pauseConditions")
    assert item["mergePatch"] == {"status": {}}
    assert condition.keys() == {"reason", "startTime"}
    assert condition["reason"] == reasons.MANUAL_PAUSE
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", condition["startTime"])
    stamped = datetime.strptime(condition["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= stamped <= after


def _obj(input_name: str) -> dict[str, Any]:
    return {"obj": load(ACTIONS / "testdata" / f"{input_name}.yaml")}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", sorted(set(ACTION_NAMES) - {"pause"}))
@pytest.mark.parametrize("input_name", ACTION_INPUTS)
def test_every_action_sends_the_cli_patch(mode: str, action: str, input_name: str) -> None:
    """On every input, the status Argo CD leaves is the one `imagerollout ctl` would leave."""
    live = load(ACTIONS / "testdata" / f"{input_name}.yaml")
    item = only_patch(engine(mode, "action", f"testdata/{input_name}.yaml", action))
    assert "nonStatusPatch" not in item
    status = apply_merge_patch(live.get("status") or {}, item["mergePatch"].get("status", {}))
    assert status == apply_merge_patch(live.get("status") or {}, CONTROLS[action])


@pytest.mark.parametrize("mode", MODES)
def test_the_python_harness_agrees_with_the_engine(mode: str) -> None:
    """argocd_lua.py gives what Argo CD gives, on every standard request bar pause's clock."""
    for req in STANDARD:
        op, obj, action = req["op"], req["obj"], req["action"]
        if action == "pause":
            continue
        got = engine(mode, op, req["path"], action)
        if op == "health":
            # Files: run as a built-in (libraries open); the ConfigMap does not set useOpenLibs.
            assert got == health(obj, open_libs=mode == "files"), req["path"]
        elif op == "discovery":
            assert by_name(got) == discover(obj), req["path"]
        else:
            item = only_patch(got)
            assert item["resource"] == run_action(action, obj), (action, req["path"])
            status_patch, other = action_patches(action, obj)
            assert item.get("statusPatch", {}) == status_patch
            assert item.get("nonStatusPatch", {}) == other


# What a script sees: its globals, what require("os") and the table library give, whether string
# methods work, and what require does for a library that is not preloaded.
PROBE = """
local function probe()
  local names = {}
  for k, v in pairs(_G) do names[#names + 1] = k .. ":" .. type(v) end
  table.sort(names)
  local os_keys = {}
  for k, v in pairs(require("os")) do os_keys[#os_keys + 1] = k .. ":" .. type(v) end
  table.sort(os_keys)
  local table_keys = {}
  for k in pairs(table) do table_keys[#table_keys + 1] = k end
  table.sort(table_keys)
  local loaded = {}
  for k in pairs(package.loaded) do loaded[#loaded + 1] = k end
  table.sort(loaded)
  local methods = pcall(function() return ("x"):upper() end)
  local string_module = pcall(require, "string")
  return {
    globals = names, os = os_keys, table = table_keys, loaded = loaded,
    methods = methods, requireString = string_module,
    sameOs = require("os") == require("os"),
  }
end
"""
SCRIPTS = {
    "health.lua": PROBE + 'return {status = "Healthy", message = tostring(probe ~= nil)}\n',
    "actions/discovery.lua": "return {probe = {}}\n",
    "actions/probe/action.lua": PROBE + "obj.status = probe()\nreturn obj\n",
}
HEALTH_PROBE = (
    PROBE
    + """
local p = probe()
local parts = {}
for _, field in ipairs({"globals", "os", "table", "loaded"}) do
  parts[#parts + 1] = field .. "=" .. table.concat(p[field], ",")
end
for _, field in ipairs({"methods", "requireString", "sameOs"}) do
  parts[#parts + 1] = field .. "=" .. tostring(p[field])
end
return {status = "Healthy", message = table.concat(parts, ";")}
"""
)
# gopher-lua globals the Python harness leaves out (see argocd_lua.py); `channel` is a library.
NOT_IN_THE_HARNESS = {"_printregs:function", "module:function"}
NOT_IN_THE_HARNESS_OPEN = NOT_IN_THE_HARNESS | {"channel:table"}


def write_customization(root: Path, scripts: dict[str, str]) -> dict[str, Path]:
    """The scripts as files (Argo CD's layout) and as an argocd-cm patch."""
    kind_dir = root / "files" / "imagerollout.dev" / "ImageModelRollout"
    for name, text in scripts.items():
        (kind_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (kind_dir / name).write_text(text)
    actions = {
        "discovery.lua": scripts["actions/discovery.lua"],
        "definitions": [
            {"name": name.split("/")[1], "action.lua": text}
            for name, text in scripts.items()
            if name.endswith("/action.lua")
        ],
    }
    data = {
        f"resource.customizations.health.{KEY}": scripts["health.lua"],
        f"resource.customizations.actions.{KEY}": yaml.safe_dump(actions),
    }
    patch = root / "argocd-cm-patch.yaml"
    patch.write_text(yaml.safe_dump({"data": data}))
    return {"files": root / "files", "configmap": patch}


def probe_in_harness(script: str, obj: Json, tmp_path: Path, *, open_libs: bool) -> Json:
    path = tmp_path / "harness.lua"
    path.write_text(script)
    return run_script(path, obj, open_libs=open_libs)


@pytest.mark.parametrize("mode", MODES)
def test_scripts_see_what_they_see_in_argo_cd(mode: str, tmp_path: Path) -> None:
    """The environment of each kind of script, in the engine and in the Python harness."""
    scripts = {**SCRIPTS, "health.lua": HEALTH_PROBE}
    source = write_customization(tmp_path, scripts)[mode]
    obj = load(ACTIONS / "testdata" / "progressing.yaml")
    health_out, action_out = batch(
        source,
        [{"op": "health", "obj": obj}, {"op": "action", "obj": obj, "action": "probe"}],
    )
    assert "error" not in health_out, health_out
    assert "error" not in action_out, action_out

    # Actions never get the standard libraries: no os, string or math; require("os") is safe.
    seen = only_patch(action_out["result"])["resource"]["status"]
    assert seen["os"] == ["date:function", "time:function"]
    assert seen["table"] == ["concat", "getn", "insert", "maxn", "remove", "sort"]
    assert seen["methods"] is False, "string methods work without the string library"
    assert seen["requireString"] is False
    assert seen["sameOs"] is True
    names = {g.split(":")[0] for g in seen["globals"]}
    assert not names & {"os", "string", "math", "io", "debug", "coroutine"}
    in_harness = probe_in_harness(
        scripts["actions/probe/action.lua"], obj, tmp_path, open_libs=False
    )
    harness_seen = in_harness["status"]
    assert set(seen["globals"]) - set(harness_seen["globals"]) == NOT_IN_THE_HARNESS
    assert set(harness_seen["globals"]) <= set(seen["globals"])
    assert {k: v for k, v in harness_seen.items() if k != "globals"} == {
        k: v for k, v in seen.items() if k != "globals"
    }

    # Health: libraries open only for a built-in script (files); the ConfigMap does not set
    # resource.customizations.useOpenLibs. require("os") is the safe os either way.
    fields = dict(part.split("=", 1) for part in health_out["result"]["message"].split(";"))
    health_names = {g.split(":")[0] for g in fields["globals"].split(",")}
    assert ({"os", "string", "math"} <= health_names) == (mode == "files")
    assert fields["os"] == "date:function,time:function"
    harness_health = health_status(
        probe_in_harness(HEALTH_PROBE, obj, tmp_path, open_libs=mode == "files")
    )
    harness_fields = dict(part.split("=", 1) for part in harness_health["message"].split(";"))
    engine_globals = set(fields.pop("globals").split(","))
    harness_globals = set(harness_fields.pop("globals").split(","))
    assert engine_globals - harness_globals == (
        NOT_IN_THE_HARNESS_OPEN if mode == "files" else NOT_IN_THE_HARNESS
    )
    assert harness_globals <= engine_globals
    assert harness_fields == fields


# The pause action as it was: a global `os`, which Argo CD does not have.
GLOBAL_OS_PAUSE = """\
if obj.status == nil then
  obj.status = {}
end
obj.status.pauseConditions = {
  { reason = "ManualPause", startTime = os.date("!%Y-%m-%dT%H:%M:%SZ") },
}
return obj
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_global_os_fails_in_argo_cd_and_in_the_harness(mode: str, tmp_path: Path) -> None:
    """The engine and the harness both reject what Argo CD rejected: the old pause action."""
    scripts = {**SCRIPTS, "actions/probe/action.lua": GLOBAL_OS_PAUSE}
    source = write_customization(tmp_path, scripts)[mode]
    obj = load(ACTIONS / "testdata" / "progressing.yaml")
    (out,) = batch(source, [{"op": "action", "obj": obj, "action": "probe"}])
    assert "attempt to index a non-table object(nil) with key 'date'" in out.get("error", ""), out
    with pytest.raises(LuaError, match="global 'os'"):
        probe_in_harness(GLOBAL_OS_PAUSE, obj, tmp_path, open_libs=False)


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_script_fails_in_the_engine(mode: str, tmp_path: Path) -> None:
    """The cases can fail: a health.lua that calls Paused 'Progressing' is caught, and an
    unknown action or a script error comes back as an error, not a result."""
    broken = {
        **SCRIPTS,
        "health.lua": (CUSTOMIZATION / "health.lua")
        .read_text()
        .replace('hs.status = "Suspended"', 'hs.status = "Progressing"'),
        "actions/probe/action.lua": 'return {status = string.upper("x")}',
    }
    source = write_customization(tmp_path, broken)[mode]
    obj = load(CUSTOMIZATION / "testdata" / "paused_manual.yaml")
    health_out, probe_out, missing_out = batch(
        source,
        [
            {"op": "health", "obj": obj},
            {"op": "action", "obj": obj, "action": "probe"},
            {"op": "action", "obj": obj, "action": "no-such-action"},
        ],
    )
    assert health_out["result"]["status"] == "Progressing" != health(obj)["status"]
    assert "with key 'upper'" in probe_out["error"]
    assert "built-in script does not exist" in missing_out["error"]
