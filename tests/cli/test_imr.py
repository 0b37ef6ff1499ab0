"""`kubectl imr` commands against a fake API: controls, status exit codes, lint, get, list."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from imagerollout.cli import imr
from imagerollout.cli.controls import CONTROLS, apply_control, control_patch
from imagerollout.core.rollout.revision import template_revision
from tests.cli.sample import ROLLOUT, FakeKube, Object, rollout

TEMPLATE = {"spec": {"containers": [{"name": "model", "image": "registry.example/imagegen:v3"}]}}


def kube_with_target(*rollouts: Object, changes: list[Object] | None = None) -> FakeKube:
    kube = FakeKube(*rollouts, changes=changes)
    kube.objects[("deployments", "team-a", "imagegen")] = {
        "metadata": {"name": "imagegen"},
        "spec": {"template": TEMPLATE},
    }
    return kube


def test_every_action_patches_status_as_ctl_did() -> None:
    for action in CONTROLS:
        kube = FakeKube(ROLLOUT)
        apply_control(kube, "team-a", "imagegen", action)
        assert kube.patches == [("team-a", "imagegen", control_patch(action, datetime.now(UTC)))]


def test_pause_is_stamped_and_a_missing_rollout_is_an_error() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    patch = control_patch("pause", moment)
    assert patch["pauseConditions"] == [
        {"reason": "ManualPause", "startTime": "2026-01-02T03:04:05Z"}
    ]
    with pytest.raises(LookupError, match="team-a/nope not found"):
        apply_control(FakeKube(), "team-a", "nope", "abort")


def test_status_exit_codes() -> None:
    degraded = kube_with_target(ROLLOUT, changes=[rollout(phase="Progressing"), ROLLOUT])
    assert imr.wait_status(degraded, "team-a", "imagegen", 5) == imr.EXIT_DEGRADED
    done = rollout(
        phase="Succeeded", stable={"revision": template_revision(TEMPLATE), "model": "v3"}
    )
    succeeded = kube_with_target(done, changes=[rollout(phase="Progressing"), done])
    assert imr.wait_status(succeeded, "team-a", "imagegen", 5) == imr.EXIT_SUCCEEDED
    # Succeeded on the previous revision is the last rollout's result, not this one's.
    stale = rollout(phase="Succeeded")
    waiting = kube_with_target(stale, changes=[stale])
    assert imr.wait_status(waiting, "team-a", "imagegen", 5) == imr.EXIT_TIMEOUT
    with pytest.raises(LookupError):
        imr.wait_status(FakeKube(), "team-a", "imagegen", 5)


def test_get_watch_prints_each_change_once_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    first = rollout(phase="Progressing", canaryWeight=5)
    changes = [first, first, rollout(phase="Degraded")]
    kube = FakeKube(first, changes=changes)
    console = Console(file=io.StringIO(), width=140)
    assert imr.get(kube, "team-a", "imagegen", console, watch=True, timeout=5) == 0
    out = capsys.readouterr().out
    assert out.count("Phase:") == 2
    assert out.index("Progressing") < out.index("Degraded")


def write(tmp_path: Path, obj: dict[str, object]) -> Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump_all([{"kind": "ConfigMap"}, obj]))
    return path


def test_lint_accepts_a_good_rollout_and_names_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = {k: ROLLOUT[k] for k in ("apiVersion", "kind", "metadata", "spec")}
    kube = FakeKube()
    assert imr.lint(kube, write(tmp_path, good), "team-a") == 0
    assert "imagegen: ok" in capsys.readouterr().out
    assert kube.dry_runs[0]["metadata"]["namespace"] == "team-a"
    kube.reject = "spec.steps: the last step must set weight 100, got 50"
    assert imr.lint(kube, write(tmp_path, good), "team-a") == 1
    assert "got 50" in capsys.readouterr().out


def test_lint_runs_the_operators_own_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = yaml.safe_load(
        yaml.safe_dump({k: ROLLOUT[k] for k in ("apiVersion", "kind", "metadata", "spec")})
    )
    bad["spec"]["metrics"] = {
        "provider": {"prometheus": {"address": "http://prometheus:9090"}},
        "gates": [
            {"name": "p95", "query": 'sum(rate(x{service="{{service}}"}[1m])', "maxRatio": "1.2"}
        ],
    }
    assert imr.lint(FakeKube(), write(tmp_path, bad), "team-a") == 1
    assert "spec.metrics.gates[0] (p95)" in capsys.readouterr().out


def test_lint_without_a_rollout(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("kind: ConfigMap\n")
    assert imr.lint(FakeKube(), path, "team-a") == 1
