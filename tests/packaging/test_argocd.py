"""Argo CD health check and actions, run over their test data with a real Lua 5.1 interpreter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51  # type: ignore[import-untyped]

from imagerollout.api.v1alpha1 import Phase
from imagerollout.cli.controls import CONTROLS
from imagerollout.core import reasons
from tests.packaging.argocd_cm import PATCH_FILE
from tests.packaging.argocd_cm import render as render_cm
from tests.packaging.argocd_lua import (
    ACTIONS,
    CUSTOMIZATION,
    LuaError,
    action_patches,
    apply_merge_patch,
    discover,
    health,
    lua_version,
    run_action,
    run_script,
)

HEALTH_TESTS: list[dict[str, Any]] = yaml.safe_load(
    (CUSTOMIZATION / "health_test.yaml").read_text()
)["tests"]
ACTION_TESTS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (ACTIONS / "action_test.yaml").read_text()
)
ACTION_NAMES = sorted(p.name for p in ACTIONS.iterdir() if (p / "action.lua").is_file())

# The README's table: phase -> Argo CD health.
PHASE_HEALTH = {
    "Initialized": "Healthy",
    "Succeeded": "Healthy",
    "Initializing": "Progressing",
    "Progressing": "Progressing",
    "Promoting": "Progressing",
    "Paused": "Suspended",
    "Degraded": "Degraded",
}
CONDITION_TYPES = {
    reasons.PROGRESSING,
    reasons.PAUSED,
    reasons.AVAILABLE,
    reasons.PROMOTED,
    reasons.INVALID_SPEC,
}


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def case_id(case: dict[str, Any]) -> str:
    return Path(str(case["inputPath"])).stem


def test_the_interpreter_is_lua_5_1_not_luajit() -> None:
    assert lua_version() == "Lua 5.1"
    assert lua51.LuaRuntime().eval("jit") is None


@pytest.mark.parametrize("case", HEALTH_TESTS, ids=case_id)
def test_health(case: dict[str, Any]) -> None:
    assert health(load(CUSTOMIZATION / case["inputPath"])) == case["healthStatus"]


def test_health_cases_cover_every_phase_and_condition() -> None:
    phases: dict[str, set[str]] = {}
    problems: set[str] = set()
    for case in HEALTH_TESTS:
        status = load(CUSTOMIZATION / case["inputPath"]).get("status") or {}
        if status.get("phase"):
            phases.setdefault(status["phase"], set()).add(case["healthStatus"]["status"])
        for c in status.get("conditions", []):
            # The value each condition type has when something is wrong, or just happened.
            flagged = {reasons.PROGRESSING: "False", reasons.AVAILABLE: "False"}
            if c["status"] == flagged.get(c["type"], "True"):
                problems.add(c["type"])
    assert set(phases) == {p.value for p in Phase}, "a phase without a health case"
    assert problems == CONDITION_TYPES, "a condition type without a case"
    assert set(PHASE_HEALTH) == {p.value for p in Phase}


@pytest.mark.parametrize("phase", sorted(PHASE_HEALTH))
def test_each_phase_maps_as_documented(phase: str) -> None:
    obj = load(CUSTOMIZATION / "testdata" / "progressing.yaml")
    obj["status"]["phase"] = obj["status"]["message"] = phase
    assert health(obj)["status"] == PHASE_HEALTH[phase]


def test_progressing_until_the_generation_is_observed() -> None:
    obj = load(CUSTOMIZATION / "testdata" / "succeeded.yaml")
    assert health(obj)["status"] == "Healthy"
    obj["metadata"]["generation"] = 3
    for observed, verdict in [(None, "Progressing"), (2, "Progressing"), (3, "Healthy")]:
        obj["status"]["observedGeneration"] = observed
        assert health(obj)["status"] == verdict, observed


def test_message_carries_weight_and_step() -> None:
    obj = load(CUSTOMIZATION / "testdata" / "progressing.yaml")
    obj["status"].update(canaryWeight=50, currentStepIndex=2, message="")
    assert health(obj)["message"].endswith("(canary 50%, step 3/4)")


@pytest.mark.parametrize("case", ACTION_TESTS["discoveryTests"], ids=case_id)
def test_discovery(case: dict[str, Any]) -> None:
    expected = {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in case["result"]}
    assert discover(load(ACTIONS / case["inputPath"])) == expected


def test_discovery_offers_exactly_the_cli_controls() -> None:
    offered = discover(load(ACTIONS / "testdata" / "progressing.yaml"))
    assert sorted(offered) == ACTION_NAMES == sorted(CONTROLS)


@pytest.mark.parametrize(
    "case", ACTION_TESTS["actionTests"], ids=lambda c: f"{c['action']}-{case_id(c)}"
)
def test_action(case: dict[str, Any]) -> None:
    live = load(ACTIONS / case["inputPath"])
    expected = load(ACTIONS / case["expectedOutputPath"])
    assert run_action(case["action"], live) == expected
    status_patch, other = action_patches(case["action"], live)
    assert other == {}, "an action must change status only (Argo CD patches /status)"
    assert bool(status_patch) == (expected != live), "a patch exactly when the object changes"


@pytest.mark.parametrize("action", sorted(set(CONTROLS) - {"pause"}))
@pytest.mark.parametrize("input_name", ["progressing", "paused_step", "degraded_aborted"])
def test_actions_send_the_same_patch_as_the_cli(action: str, input_name: str) -> None:
    """Argo CD's status patch leaves status as `imagerollout ctl` / the README's kubectl would."""
    live = load(ACTIONS / "testdata" / f"{input_name}.yaml")
    status_patch, _ = action_patches(action, live)
    by_argo = apply_merge_patch(live["status"], status_patch.get("status", {}))
    by_cli = apply_merge_patch(live["status"], CONTROLS[action])
    assert by_argo == by_cli


def test_pause_stamps_the_current_utc_time() -> None:
    live = load(ACTIONS / "testdata" / "progressing.yaml")
    before = datetime.now(UTC).replace(microsecond=0)
    status_patch, other = action_patches("pause", live)
    after = datetime.now(UTC)
    assert other == {}
    (condition,) = status_patch["status"]["pauseConditions"]
    assert set(status_patch["status"]) == {"pauseConditions"}
    assert (
        condition["reason"]
        == reasons.MANUAL_PAUSE
        == CONTROLS["pause"]["pauseConditions"][0]["reason"]
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", condition["startTime"])
    stamped = datetime.strptime(condition["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= stamped <= after


def test_the_sandbox_has_no_string_math_or_os_library(tmp_path: Path) -> None:
    """Argo CD's VM opens none of them: a script relying on one must fail here too."""
    script = tmp_path / "probe.lua"
    for source in (
        'return {status = string.format("%d", 1)}',
        'return {status = ("x"):upper()}',
        "return {status = math.floor(1.5)}",
        'return {status = os.date("!%Y")}',
        'return {status = require("string")}',
    ):
        script.write_text(source)
        with pytest.raises(LuaError):
            run_script(script, {})
    script.write_text(
        'local os = require("os")\nreturn {status = os.date("!%Y"), n = #obj.items .. ""}'
    )
    assert run_script(script, {"items": [1, 2]}) == {
        "status": str(datetime.now(UTC).year),
        "n": "2",
    }


def test_require_os_gives_only_time_and_date(tmp_path: Path) -> None:
    script = tmp_path / "probe.lua"
    script.write_text(
        'local keys = {}\nfor k in pairs(require("os")) do keys[#keys + 1] = k end\n'
        'table.sort(keys)\nreturn {keys = keys, same = require("os") == require("os")}'
    )
    for open_libs in (False, True):
        assert run_script(script, {}, open_libs=open_libs) == {
            "keys": ["date", "time"],
            "same": True,
        }


def test_open_libs_is_only_for_built_in_health_scripts(tmp_path: Path) -> None:
    """With UseOpenLibs (Argo CD's built-in health scripts), string, math and os are globals."""
    script = tmp_path / "probe.lua"
    script.write_text('return {status = string.upper("x") .. math.floor(1.5) .. type(os.exit)}')
    assert run_script(script, {}, open_libs=True) == {"status": "X1function"}
    with pytest.raises(LuaError):
        run_script(script, {})


def test_a_table_returned_twice_cannot_be_encoded(tmp_path: Path) -> None:
    """layeh/gopher-json refuses a table it meets twice, even when not nested in itself."""
    script = tmp_path / "probe.lua"
    script.write_text("local t = {a = 1}\nreturn {x = t, y = t}")
    with pytest.raises(LuaError, match="recursively nested"):
        run_script(script, {})


def test_a_wrong_health_script_fails_its_cases(tmp_path: Path) -> None:
    """The cases can fail: a health.lua that calls Paused 'Progressing' is caught."""
    broken = (
        (CUSTOMIZATION / "health.lua")
        .read_text()
        .replace('hs.status = "Suspended"', 'hs.status = "Progressing"')
    )
    script = tmp_path / "health.lua"
    script.write_text(broken)
    obj = load(CUSTOMIZATION / "testdata" / "paused_manual.yaml")
    assert run_script(script, obj)["status"] == "Progressing" != health(obj)["status"]


def test_the_argocd_cm_patch_is_generated_from_the_lua_files() -> None:
    assert PATCH_FILE.read_text() == render_cm(), (
        "argocd/argocd-cm-patch.yaml is stale: "
        ".venv/bin/python -m tests.packaging.argocd_cm > argocd/argocd-cm-patch.yaml"
    )
    data = yaml.safe_load(PATCH_FILE.read_text())["data"]
    key = "imagerollout.dev_ImageModelRollout"
    assert (
        data[f"resource.customizations.health.{key}"] == (CUSTOMIZATION / "health.lua").read_text()
    )
    actions = yaml.safe_load(data[f"resource.customizations.actions.{key}"])
    assert actions["discovery.lua"] == (ACTIONS / "discovery.lua").read_text()
    assert [d["name"] for d in actions["definitions"]] == ACTION_NAMES


def test_the_application_example_ignores_what_the_operator_owns() -> None:
    app = yaml.safe_load((CUSTOMIZATION.parents[2] / "application-example.yaml").read_text())
    examples = {
        (m["kind"], m["metadata"]["name"]): m
        for path in (CUSTOMIZATION.parents[3] / "manifests" / "examples").glob("*.yaml")
        for m in yaml.safe_load_all(path.read_text())
        if m and "kind" in m and m["kind"] != "Kustomization"
    }
    ignored = {(e["kind"], e["name"]): e for e in app["spec"]["ignoreDifferences"]}
    assert set(ignored) == {("Deployment", "imagegen"), ("HTTPRoute", "imagegen")}
    assert set(ignored) <= set(examples)
    assert ignored[("Deployment", "imagegen")]["jsonPointers"] == ["/spec/replicas"]
    (expression,) = ignored[("HTTPRoute", "imagegen")]["jqPathExpressions"]
    rollout = examples[("ImageModelRollout", "imagegen")]
    for arm in ("primary", "canary"):
        assert f'"{rollout["spec"]["targetRef"]["name"]}-{arm}"' in expression
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
