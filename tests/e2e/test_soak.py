"""A short kill -9 soak: the operator SIGKILLed 12 times at random moments over four rollouts
walking round after round (tests/e2e/soak.py, the checks `bench/scale_bench.py --soak 50`
runs). IMAGEROLLOUT_SOAK_SEED=N replays a run's random draws (kill moments, new images,
aborts): the seed is printed and in the failure message."""

from __future__ import annotations

import json
import os
import random

import pytest
import yaml

from tests.e2e import soak
from tests.e2e.helpers import Cluster, wait_for
from tests.e2e.rollout_env import RolloutEnv
from tests.e2e.route_watch import HTTPROUTES, ObjectWatch

pytestmark = pytest.mark.e2e
KILLS, ROLLOUTS, ROUNDS = 12, 4, 2


class Rollouts:
    """The soak's hands on the rollouts, through kubectl."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace

    def phases(self) -> dict[str, str]:
        items = self.cluster.get_json("-n", self.namespace, "imr")["items"]
        return {i["metadata"]["name"]: (i.get("status") or {}).get("phase", "") for i in items}

    def set_image(self, name: str, image: str) -> None:
        self.cluster.kubectl(
            "-n", self.namespace, "set", "image", f"deployment/{name}", f"model={image}"
        )

    def abort(self, name: str) -> None:
        patch = json.dumps({"status": {"abort": True}})
        self.cluster.kubectl(
            "-n", self.namespace, "patch", "imr", name, "--subresource=status", "--type=merge",
            "-p", patch,
        )  # fmt: skip


def test_sigkills_at_random_moments_skip_no_step_and_leave_no_rollout_stuck(
    env: RolloutEnv,
) -> None:
    seed = int(os.environ.get("IMAGEROLLOUT_SOAK_SEED") or random.randrange(2**31))
    print(f"soak seed {seed} (IMAGEROLLOUT_SOAK_SEED={seed} replays its draws)")
    names = [f"s{i}" for i in range(ROLLOUTS)]
    objects = [o for n in names for o in (soak.deployment(n), soak.route(n), soak.rollout(n, "1s"))]
    env.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    rollouts = Rollouts(env.cluster, env.namespace)
    wait_for(
        lambda: set(rollouts.phases().values()) == {"Initialized"}, 120, 0.3, "all Initialized"
    )
    watch = ObjectWatch(env.cluster.kubeconfig, env.namespace, None, HTTPROUTES, soak.route_pair)

    def walks() -> dict[str, list[soak.Pair]]:
        return soak.by_route(watch.values)

    try:
        driver = soak.Soak(
            rollouts, env.operator, walks, names, seed, max_rounds=ROUNDS, abort_chance=0.25
        )  # few rollouts, few looks: aborts more likely than in the bench
        plan = driver.drive(KILLS)
        phases = soak.settle(plan, walks, rollouts.phases, timeout=120)
    finally:
        watch.stop()

    aborted = sum(plan.aborts.values())
    print(f"soak: {plan.kills} SIGKILLs, {plan.walks} walks checked ({aborted} aborted)")
    found = soak.problems(plan, walks(), phases)
    assert found == [], f"seed {seed}: {found}; walks {walks()}"
    assert plan.kills == KILLS
    assert plan.walks >= ROLLOUTS  # every rollout walked at least once
