"""`kubectl imr` as on-call uses it: real kubectl finding the plugin on PATH, real operator.

One rollout with a manual pause covers `get --watch` (its output captured while the rollout
moves), the controls (abort, retry, promote) and every exit code of `status`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import REPO_ROOT, wait_for
from tests.e2e.plugin import imr, imr_background
from tests.e2e.rollout_env import NAME, RolloutEnv

pytestmark = pytest.mark.e2e


def test_get_watch_controls_and_status_exit_codes(env: RolloutEnv, tmp_path: Path) -> None:
    env.deploy([{"weight": 50, "pause": {}}, {"weight": 100, "pause": {"duration": "1s"}}])
    watched = tmp_path / "watch.txt"
    watcher = imr_background(env, watched, "get", NAME, "--watch", "--timeout", "3m")
    waiter = imr_background(env, tmp_path / "status-1.txt", "status", NAME, "--timeout", "3m")
    try:
        env.set_model("v2")
        env.wait_phase("Paused")
        paused = imr(env, "status", NAME, "--timeout", "2s")
        assert paused.returncode == 2, paused

        assert imr(env, "abort", NAME).returncode == 0
        assert waiter.wait(timeout=60) == 1, (tmp_path / "status-1.txt").read_text()
        assert "Degraded" in (tmp_path / "status-1.txt").read_text()

        assert imr(env, "retry", NAME).returncode == 0
        env.wait_phase("Paused")
        shown = imr(env, "get", NAME)
        assert "Phase:      Paused" in shown.stdout, shown
        assert "50%  pause manual  (current)" in shown.stdout
        assert "set 50%  observed 50%" in shown.stdout
        assert "\x1b[" not in shown.stdout, "piped output is plain"

        assert imr(env, "promote", NAME).returncode == 0
        done = imr(env, "status", NAME, "--timeout", "90s", timeout=120)
        assert done.returncode == 0, done
        wait_for(lambda: "Succeeded" in watched.read_text(), 30, 0.3, "the watch to redraw")
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        if waiter.poll() is None:
            waiter.kill()
    frames = watched.read_text()
    print(frames[-3000:])
    phases = [line.split()[1] for line in frames.splitlines() if line.startswith("Phase:")]
    for phase in ("Paused", "Degraded", "Succeeded"):
        assert phase in phases, phases
    assert phases.index("Paused") < phases.index("Degraded") < phases.index("Succeeded")
    assert "Steps" in frames


def test_status_of_a_missing_rollout_and_lint(env: RolloutEnv, tmp_path: Path) -> None:
    assert imr(env, "status", "nope", "--timeout", "2s").returncode == 3
    bad = tmp_path / "bad.yaml"
    good = (REPO_ROOT / "demo" / "rollout.yaml").read_text()
    bad.write_text(good.replace("weight: 100", "weight: 90"))
    linted = imr(env, "lint", str(bad))
    assert linted.returncode == 1, linted
    assert "the last step must set weight 100, got 90" in linted.stdout, linted
    (tmp_path / "good.yaml").write_text(good)
    assert imr(env, "lint", str(tmp_path / "good.yaml")).returncode == 0
    assert "imagegen" not in env.kubectl("get", "imr", "-o", "name"), "lint stores nothing"
