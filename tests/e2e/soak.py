"""The kill -9 soak, shared by `bench/scale_bench.py --soak` and tests/e2e/test_soak.py.

`drive` SIGKILLs the operator at random moments (some during its start-up, most while it
works) and restarts it, while rollouts get new images round after round and a few of them are
aborted mid-walk. A watch records every weight pair each route stored. `problems` then checks:

- every (primary, canary) pair sums to 100;
- every walk goes 0 -> 5 -> 25 -> 50 -> 100 -> 0, round after round. The same weight seen
  again is fine (a pass redone after a kill); a skipped step or a step back is not, except
  back to 0 after an abort;
- no rollout is stuck: each returned to 0 once per round it was given and ended Succeeded
  (or Degraded after an abort) before the deadline.

No API client here: the bench talks to the API server with the kubernetes client, the e2e
test with kubectl, each through the small `Rollouts` and `Operator` protocols.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.e2e.helpers import WaitTimeoutError, wait_for

STEPS = (5, 25, 50, 100)
FINAL = ("Succeeded", "Degraded")
GROUP, VERSION = "imagerollout.dev", "v1alpha1"
Object = dict[str, Any]
Pair = tuple[int, int]  # (primary, canary)


# --- the objects: a target, its HTTPRoute and its rollout, all named `name` ------------------
def deployment(name: str, image: str = "registry.example/imagegen:v1") -> Object:
    labels = {"app": name}
    container = {"name": "model", "image": image}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def route(name: str) -> Object:
    refs = [
        {"name": f"{name}-primary", "port": 8080, "weight": 100},
        {"name": f"{name}-canary", "port": 8080, "weight": 0},
    ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": refs}]},
    }


def rollout(name: str, pause: str, deadline: str = "10m") -> Object:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ImageModelRollout",
        "metadata": {"name": name},
        "spec": {
            "targetRef": {"name": name},
            "service": {"port": 8080},
            "trafficRouting": {"gatewayAPI": {"httpRoute": {"name": name}}},
            "steps": [{"weight": w, "pause": {"duration": pause}} for w in STEPS],
            "progressDeadline": deadline,
        },
    }


def image(round_: int) -> str:
    """The image of a rollout's round 1, 2, ... (v1 is the one it starts with)."""
    return f"registry.example/imagegen:v{round_ + 1}"


def route_pair(obj: Object) -> tuple[str, Pair] | None:
    """(route name, (primary, canary)) of a route made by `route`; None for any other."""
    name = obj["metadata"]["name"]
    weights = {
        ref.get("name"): int(ref.get("weight", 1))
        for rule in obj["spec"].get("rules", [])
        for ref in rule.get("backendRefs", [])
    }
    primary, canary = weights.get(f"{name}-primary"), weights.get(f"{name}-canary")
    if primary is None or canary is None:
        return None
    return name, (primary, canary)


def by_route(seen: Iterable[tuple[str, Pair]]) -> dict[str, list[Pair]]:
    """Each route's pairs, in the order the API server stored them."""
    walks: dict[str, list[Pair]] = {}
    for name, pair in seen:
        walks.setdefault(name, []).append(pair)
    return walks


# --- the checks --------------------------------------------------------------------------------
def distinct(weights: Sequence[int]) -> list[int]:
    """The weights without consecutive repeats."""
    return [w for i, w in enumerate(weights) if i == 0 or weights[i - 1] != w]


def sum_problems(name: str, pairs: Sequence[Pair]) -> list[str]:
    return [f"{name}: {p} + {c} = {p + c}" for p, c in pairs if p + c != 100]


def walk_problems(
    name: str, canary: Sequence[int], rounds: int, aborts: int = 0, steps: Sequence[int] = STEPS
) -> list[str]:
    """What is wrong with a walk of canary weights (0 first) given `rounds` new images, of
    which `aborts` were aborted: each may return to 0 early, once."""
    order = (0, *steps)
    following = {w: order[(i + 1) % len(order)] for i, w in enumerate(order)}
    problems, returns, early = [], 0, 0
    walk = distinct(canary)  # the same weight again is fine
    if walk[:1] != [0]:
        problems.append(f"{name}: starts at {walk[:1]}, not 0")
    for before, after in itertools.pairwise(walk):
        if after == following.get(before):
            returns += after == 0
        elif after == 0 and early < aborts:
            returns, early = returns + 1, early + 1
        elif after in order and before in order and order.index(after) > order.index(before):
            problems.append(f"{name}: {before} -> {after} skips {following.get(before)}")
        else:
            problems.append(f"{name}: {before} -> {after} goes back")
    if returns != rounds:
        problems.append(f"{name}: back at 0 {returns} times for {rounds} rounds: {walk}")
    return problems


@dataclass
class Plan:
    """What the soak did to each rollout."""

    rounds: dict[str, int]  # new images given
    aborts: dict[str, int] = field(default_factory=dict)  # rounds aborted
    last_aborted: dict[str, bool] = field(default_factory=dict)
    kills: int = 0
    startup_kills: int = 0  # of which while the operator was starting (lists, first passes)
    seed: int = 0

    @property
    def walks(self) -> int:
        return sum(self.rounds.values())


def phase_problems(plan: Plan, phases: Mapping[str, str]) -> list[str]:
    problems = []
    for name in plan.rounds:
        phase = phases.get(name, "")
        # An abort that comes as the promotion ends is too late: the rollout has Succeeded.
        wanted = FINAL if plan.last_aborted.get(name) else ("Succeeded",)
        if phase not in wanted:
            problems.append(f"{name}: stuck in {phase or 'no phase'}, not {' or '.join(wanted)}")
    return problems


def problems(
    plan: Plan, walks: Mapping[str, Sequence[Pair]], phases: Mapping[str, str]
) -> list[str]:
    found = phase_problems(plan, phases)
    for name, rounds in plan.rounds.items():
        pairs = walks.get(name, [])
        found += sum_problems(name, pairs)
        canary = [c for _, c in pairs] or [0]
        found += walk_problems(name, canary, rounds, plan.aborts.get(name, 0))
    return found


def settled(plan: Plan, walks: Mapping[str, Sequence[Pair]], phases: Mapping[str, str]) -> bool:
    """Every rollout finished its last round: what the soak waits for, with a deadline."""
    if phase_problems(plan, phases):
        return False
    return all(returns(walks.get(name, [])) >= rounds for name, rounds in plan.rounds.items())


def returns(pairs: Sequence[Pair]) -> int:
    canary = [c for _, c in pairs]
    return sum(1 for a, b in itertools.pairwise(canary) if a != 0 and b == 0)


# --- the driver --------------------------------------------------------------------------------
class Rollouts(Protocol):
    def phases(self) -> dict[str, str]: ...

    def set_image(self, name: str, image: str) -> None: ...

    def abort(self, name: str) -> None: ...


class Operator(Protocol):
    def spawn(self) -> None:
        """Start the process; return at once."""

    def wait_ready(self) -> None: ...

    def kill(self) -> None:
        """SIGKILL, and wait for the process to be gone."""


@dataclass
class Soak:
    rollouts: Rollouts
    operator: Operator
    walks: Callable[[], Mapping[str, Sequence[Pair]]]  # what the route watch saw so far
    names: list[str]
    seed: int
    max_rounds: int = 3
    abort_chance: float = 0.06  # per rollout mid-walk, per look
    sleep: Callable[[float], None] = time.sleep

    def drive(self, kills: int) -> Plan:
        """Kill the operator `kills` times, giving rollouts new images and aborts meanwhile.
        The operator runs on entry (it initialized the rollouts) and again on return (the
        caller waits for `settled`)."""
        rng = random.Random(self.seed)
        plan = Plan(rounds=dict.fromkeys(self.names, 0), seed=self.seed)
        starting = False
        for _ in range(kills):
            if starting and rng.random() < 0.2:  # mid start-up: informer lists, first passes
                self.sleep(rng.uniform(0.2, 1.5))
                plan.startup_kills += 1
            else:
                if starting:
                    self.operator.wait_ready()
                self.sleep(rng.uniform(0.0, 1.2))
                self._nudge(rng, plan)
                self.sleep(rng.uniform(0.0, 1.2))
            self.operator.kill()
            plan.kills += 1
            if rng.random() < 0.5:
                self._nudge(rng, plan)  # while no operator runs: its relist must see it
            self.operator.spawn()
            starting = True
        if any(r == 0 for r in plan.rounds.values()):  # every rollout walks at least once
            self._nudge(rng, plan, chance=1.0)
        self.operator.wait_ready()
        return plan

    def _nudge(self, rng: random.Random, plan: Plan, chance: float = 0.5) -> None:
        phases, walks = self.rollouts.phases(), self.walks()
        for name in self.names:
            pairs = walks.get(name, [])
            done = returns(pairs) >= plan.rounds[name] and phases.get(name) in (
                *FINAL,
                "Initialized",
            )
            if done and plan.rounds[name] < self.max_rounds and rng.random() < chance:
                plan.rounds[name] += 1
                plan.last_aborted[name] = False
                self.rollouts.set_image(name, image(plan.rounds[name]))
            mid_walk = bool(pairs) and pairs[-1][1] in STEPS[:-1] and not done
            if mid_walk and not plan.last_aborted.get(name) and rng.random() < self.abort_chance:
                plan.aborts[name] = plan.aborts.get(name, 0) + 1
                plan.last_aborted[name] = True
                self.rollouts.abort(name)


def settle(
    plan: Plan,
    walks: Callable[[], Mapping[str, Sequence[Pair]]],
    phases: Callable[[], dict[str, str]],
    timeout: float,
) -> dict[str, str]:
    """The phases once every rollout has finished its rounds, or at the deadline (then
    `problems` says which are stuck)."""
    with contextlib.suppress(WaitTimeoutError):
        wait_for(lambda: settled(plan, walks(), phases()), timeout, 0.5, "the soak to settle")
    return phases()
