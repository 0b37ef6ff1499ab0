"""Scale bench: N concurrent rollouts on one operator process, on the local control plane.

For each N (default 100, 250, 500) in a fresh namespace: N target Deployments (one replica;
kwok makes the pods), N HTTPRoutes and N rollouts with steps 5/25/50/100 and a 5 s pause each.
The operator (`imagerollout run`, one process) initializes them; the bench measures its
requests while idle, then triggers all N at once (a new image on every target) and watches
routes, Deployments and rollouts until every rollout Succeeded. It prints, per N:

- trigger -> first weight: from the canary's pods being ready to 5% on the route (p50, p99);
- step lag: beyond the 5 s pause, between two weights on the route (p50, p99);
- promotion lag: from the primary being ready on the canary's template to 0% (p50, p99);
- requests per step change (the passes that completed a step and set the next weight),
  requests per rollout, requests/s while idle;
- RSS and CPU seconds of the operator;
- each figure's ratio to the first N (the baseline of this run).

Every route event is checked: the two weights sum to 100, and each route walks
0 -> 5 -> 25 -> 50 -> 100 -> 0 without skipping or repeating a step.

`--soak K` instead runs the kill -9 soak (tests/e2e/soak.py, shared with the e2e test):
rollouts walking round after round, a few aborted, the operator SIGKILLed K times at random
moments and restarted; then every weight pair sums to 100, no walk skips a step or goes back
(but to 0 on an abort), and no rollout is stuck. `--seed` replays a run's random draws.

    scripts/cluster-up.sh && .venv/bin/python bench/scale_bench.py [--sizes 100,250,500]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from urllib3.exceptions import ProtocolError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e import soak as soaking  # noqa: E402
from tests.e2e.soak import GROUP, STEPS, VERSION, Object, deployment, rollout, route  # noqa: E402

KUBECONFIG = ROOT / ".cache" / "cluster" / "kubeconfig"
WEIGHTS = STEPS
QUEUE_WAIT = "imagerollout_workqueue_wait_seconds_bucket"
API_SECONDS = "imagerollout_api_request_duration_seconds_bucket"
HISTOGRAMS = (QUEUE_WAIT, API_SECONDS)


def ready_on(obj: Object, image: str) -> bool:
    spec, status = obj["spec"], obj.get("status", {})
    want = spec.get("replicas", 1)
    images = [c["image"] for c in spec["template"]["spec"]["containers"]]
    current = status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 0)
    counts = [status.get(k, 0) for k in ("replicas", "updatedReplicas", "availableReplicas")]
    return want > 0 and image in images and current and all(c == want for c in counts)


# --- what the bench sees -----------------------------------------------------------------------
@dataclass
class Seen:
    """Times (monotonic) of what the watches saw, per rollout name."""

    weights: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    pairs: list[tuple[str, soaking.Pair]] = field(default_factory=list)  # every route version
    canary_ready: dict[str, float] = field(default_factory=dict)
    primary_ready: dict[str, float] = field(default_factory=dict)
    succeeded: dict[str, float] = field(default_factory=dict)
    phases: dict[str, str] = field(default_factory=dict)
    image: str = "registry.example/imagegen:v2"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, obj: Object) -> None:
        seen = soaking.route_pair(obj)
        if seen is None:
            return
        name, (_, canary) = seen
        with self.lock:
            self.pairs.append(seen)
            walk = self.weights.setdefault(name, [])
            if not walk or walk[-1][1] != canary:
                walk.append((time.monotonic(), canary))

    def deployment(self, obj: Object) -> None:
        name = obj["metadata"]["name"]
        if not ready_on(obj, self.image):
            return
        target = self.primary_ready if name.endswith("-primary") else self.canary_ready
        with self.lock:
            target.setdefault(name.removesuffix("-primary"), time.monotonic())

    def rollout(self, obj: Object) -> None:
        name, phase = obj["metadata"]["name"], (obj.get("status") or {}).get("phase", "")
        with self.lock:
            self.phases[name] = phase
            if phase == "Succeeded" and self.weights.get(name, [(0, 0)])[-1][1] == 0:
                self.succeeded.setdefault(name, time.monotonic())

    def walks(self) -> dict[str, list[soaking.Pair]]:
        with self.lock:
            return soaking.by_route(self.pairs)


class Watches:
    def __init__(self, api: client.ApiClient, namespace: str, seen: Seen) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.watches: list[watch.Watch] = []
        kinds = [
            ("gateway.networking.k8s.io", "v1", "httproutes", seen.route),
            ("apps", "v1", "deployments", seen.deployment),  # as a custom path: plain dicts
            (GROUP, VERSION, "imagemodelrollouts", seen.rollout),
        ]
        self.threads = [
            threading.Thread(target=self._run, args=(namespace, *k), daemon=True) for k in kinds
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, namespace: str, group: str, version: str, plural: str, handle: Any) -> None:
        w = watch.Watch()
        self.watches.append(w)
        try:
            for event in w.stream(
                self.custom.list_namespaced_custom_object, group, version, namespace, plural
            ):
                handle(event["raw_object"])
        except ProtocolError:  # stop() closes the connection
            pass

    def stop(self) -> None:
        for w in self.watches:
            w.stop()


# --- the operator process --------------------------------------------------------------------
class Operator:
    def __init__(self, namespace: str, log: Path) -> None:
        self.namespace, self.log = namespace, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = 0

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        import socket

        assert self.proc is None or self.proc.poll() is not None, "one operator at a time"

        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            self.metrics_port, health = a.getsockname()[1], b.getsockname()[1]
        env = {**os.environ, "KUBECONFIG": str(KUBECONFIG), "PYTHONPATH": str(ROOT / "operator")}
        args = [sys.executable, "-m", "imagerollout.cli.main", "run", "--namespace"]
        args += [self.namespace, "--liveness", f"http://127.0.0.1:{health}/healthz"]
        args += ["--metrics-address", f"127.0.0.1:{self.metrics_port}"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.scrape()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"operator did not start; see {self.log}")

    def scrape(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:
            text = reply.read().decode()
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            series, value = line.rsplit(" ", 1)
            metric = series.split("{", 1)[0]
            if metric.startswith("imagerollout_") and metric.endswith("_total"):
                totals[metric] = totals.get(metric, 0.0) + float(value)
            if metric in HISTOGRAMS and 'le="' in series:  # summed over the other labels
                le = series.split('le="', 1)[1].split('"', 1)[0]
                totals[f"{metric}@{le}"] = totals.get(f"{metric}@{le}", 0.0) + float(value)
            if metric == "imagerollout_reconcile_duration_seconds_count":
                totals["passes"] = float(value)
        return totals

    def usage(self) -> tuple[float, float]:
        """(RSS in MB, CPU seconds) of the process."""
        assert self.proc is not None
        pid = self.proc.pid
        rss = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return rss / 1024, (int(fields[11]) + int(fields[12])) / ticks

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)


# --- setup -------------------------------------------------------------------------------------
class Cluster:
    def __init__(self) -> None:
        self.api = config.new_client_from_config(str(KUBECONFIG))
        self.api.configuration.connection_pool_maxsize = 32
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.install_crd()

    def install_crd(self) -> None:
        kubectl = ["kubectl", "--kubeconfig", str(KUBECONFIG)]
        crd = ROOT / "crds" / "imagemodelrollouts.imagerollout.dev.yaml"
        subprocess.run([*kubectl, "apply", "--server-side", "-f", str(crd)], check=True)
        established = ["wait", "--for=condition=Established", "--timeout=60s"]
        subprocess.run([*kubectl, *established, "-f", str(crd)], check=True)

    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": name}})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # pods need the default ServiceAccount
            if self.core.list_namespaced_service_account(name).items:
                return name
            time.sleep(0.5)
        raise RuntimeError(f"no ServiceAccount in {name}")

    def create(self, namespace: str, names: list[str], pause: str) -> None:
        def one(name: str) -> None:
            self.apps.create_namespaced_deployment(namespace, deployment(name))
            self.custom.create_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", namespace, "httproutes", route(name)
            )
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "imagemodelrollouts", rollout(name, pause)
            )

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, names))

    def set_image(self, namespace: str, names: list[str], image: str) -> float:
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": "model", "image": image}]}}}
        }
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda n: self.apps.patch_namespaced_deployment(n, namespace, patch), names
                )
            )
        return started

    def phases(self, namespace: str) -> list[str]:
        return list(self.phases_by_name(namespace).values())

    def phases_by_name(self, namespace: str) -> dict[str, str]:
        items = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "imagemodelrollouts"
        )["items"]
        return {i["metadata"]["name"]: (i.get("status") or {}).get("phase", "") for i in items}

    def abort(self, namespace: str, name: str) -> None:
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, "imagemodelrollouts", name, {"status": {"abort": True}}
        )

    def wait_phases(self, namespace: str, phase: str, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            phases = self.phases(namespace)
            if phases.count(phase) == count:
                return
            time.sleep(2)
        raise RuntimeError(f"{phases.count(phase)}/{count} {phase} after {timeout}s")

    def delete(self, namespace: str) -> None:
        self.core.delete_namespace(namespace)


# --- figures -----------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def walk_problems(seen: Seen, names: list[str]) -> list[str]:
    walks = seen.walks()
    found = []
    for name in names:
        pairs = walks.get(name, [])
        found += soaking.sum_problems(name, pairs)
        walk = soaking.distinct([c for _, c in pairs])
        if walk != [0, *WEIGHTS, 0]:  # one round, no kill: every step exactly once
            found.append(f"{name}: walked {walk}")
    return found


@dataclass
class Figures:
    n: int
    trigger: list[float]
    step_lag: list[float]
    promotion: list[float]
    per_step_change: float
    per_rollout: float
    idle_rps: float
    rss_mb: float
    cpu_s: float
    wall_s: float
    passes_per_rollout: float
    queue_wait_p99: float  # upper bound of the bucket, seconds
    api_p99: float
    problems: list[str]


def measure(cluster: Cluster, n: int, pause_s: float, workdir: Path) -> Figures:
    namespace = cluster.namespace(f"scale-{n}")
    names = [f"m{i:04d}" for i in range(n)]
    operator = Operator(namespace, workdir / f"operator-{n}.log")
    seen = Seen()
    try:
        cluster.create(namespace, names, f"{int(pause_s)}s")
        operator.start()
        cluster.wait_phases(namespace, "Initialized", n, 600)
        time.sleep(3)  # let the last follow-up passes finish
        idle_before = operator.scrape()
        time.sleep(10)
        idle_after = operator.scrape()
        idle = (sum_requests(idle_after) - sum_requests(idle_before)) / 10
        watches = Watches(cluster.api, namespace, seen)
        time.sleep(2)  # the watches' initial lists
        before, (_, cpu_before) = operator.scrape(), operator.usage()
        started = cluster.set_image(namespace, names, seen.image)
        cluster.wait_phases(namespace, "Succeeded", n, 900)
        wall = time.monotonic() - started
        time.sleep(1)
        after, (rss, cpu_after) = operator.scrape(), operator.usage()
        watches.stop()
    finally:
        operator.stop()
        cluster.delete(namespace)
    trigger, steps, promotion = [], [], []
    for name in names:
        times = {w: t for t, w in reversed(seen.weights.get(name, []))}  # first time
        if name in seen.canary_ready and 5 in times:
            trigger.append(times[5] - seen.canary_ready[name])
        for a, b in itertools.pairwise(WEIGHTS):
            if a in times and b in times:
                steps.append(times[b] - times[a] - pause_s)
        last = seen.weights.get(name, [])
        if name in seen.primary_ready and last and last[-1][1] == 0:
            promotion.append(last[-1][0] - seen.primary_ready[name])
    changes = after.get("imagerollout_step_changes_total", 0) - before.get(
        "imagerollout_step_changes_total", 0
    )
    change_requests = after.get("imagerollout_step_change_requests_total", 0) - before.get(
        "imagerollout_step_change_requests_total", 0
    )
    return Figures(
        n=n,
        trigger=trigger,
        step_lag=steps,
        promotion=promotion,
        per_step_change=change_requests / changes if changes else float("nan"),
        per_rollout=(sum_requests(after) - sum_requests(before)) / n,
        idle_rps=idle,
        rss_mb=rss,
        cpu_s=cpu_after - cpu_before,
        wall_s=wall,
        passes_per_rollout=(after.get("passes", 0) - before.get("passes", 0)) / n,
        queue_wait_p99=bucket_quantile(before, after, QUEUE_WAIT, 0.99),
        api_p99=bucket_quantile(before, after, API_SECONDS, 0.99),
        problems=walk_problems(seen, names),
    )


def bucket_quantile(
    before: dict[str, float], after: dict[str, float], metric: str, q: float
) -> float:
    """The upper bound of the histogram bucket holding quantile q of what happened between
    two scrapes (Prometheus' histogram_quantile without the interpolation)."""
    buckets = sorted(
        (float(key.split("@")[1]), after[key] - before.get(key, 0.0))
        for key in after
        if key.startswith(f"{metric}@")
    )
    total = buckets[-1][1] if buckets else 0.0
    return next((le for le, count in buckets if count >= q * total), float("nan"))


def sum_requests(totals: dict[str, float]) -> float:
    return totals.get("imagerollout_api_requests_total", 0.0)


def report(all_figures: list[Figures]) -> None:
    base = all_figures[0]
    rows = [
        ("trigger -> 5% p50 (s)", lambda f: pct(f.trigger, 50)),
        ("trigger -> 5% p99 (s)", lambda f: pct(f.trigger, 99)),
        ("step lag p50 (s)", lambda f: pct(f.step_lag, 50)),
        ("step lag p99 (s)", lambda f: pct(f.step_lag, 99)),
        ("primary ready -> 0% p50 (s)", lambda f: pct(f.promotion, 50)),
        ("primary ready -> 0% p99 (s)", lambda f: pct(f.promotion, 99)),
        ("requests per step change", lambda f: f.per_step_change),
        ("requests per rollout", lambda f: f.per_rollout),
        ("requests/s idle", lambda f: f.idle_rps),
        ("passes per rollout", lambda f: f.passes_per_rollout),
        ("work queue wait p99 (s, bucket <=)", lambda f: f.queue_wait_p99),
        ("API request p99 (s, bucket <=)", lambda f: f.api_p99),
        ("RSS (MB)", lambda f: f.rss_mb),
        ("CPU seconds (rollout)", lambda f: f.cpu_s),
        ("wall: trigger -> all Succeeded (s)", lambda f: f.wall_s),
    ]
    header = "".join(f"{'N=' + str(f.n):>16}" for f in all_figures)
    print(f"\n{'':36}{header}   (x: ratio to N={base.n})")
    for label, get in rows:
        cells = ""
        for f in all_figures:
            value, ref = get(f), get(base)
            ratio = f" x{value / ref:.1f}" if f is not base and ref > 0.005 else ""  # nan fails
            cells += f"{value:>10.2f}{ratio:<6}"
        print(f"{label:36}{cells}")
    for f in all_figures:
        status = "ok" if not f.problems else f"{len(f.problems)} problems: {f.problems[:5]}"
        print(
            f"N={f.n}: every weight pair sums to 100 and every route walked 0-5-25-50-100-0: "
            f"{status}"
        )


# --- kill -9 soak ---------------------------------------------------------------------------
@dataclass
class SoakRollouts:
    cluster: Cluster
    namespace: str

    def phases(self) -> dict[str, str]:
        return self.cluster.phases_by_name(self.namespace)

    def set_image(self, name: str, image: str) -> None:
        self.cluster.set_image(self.namespace, [name], image)

    def abort(self, name: str) -> None:
        self.cluster.abort(self.namespace, name)


def soak(
    cluster: Cluster, kills: int, rollouts: int, rounds: int, seed: int, workdir: Path
) -> list[str]:
    """SIGKILL the operator `kills` times at random moments while rollouts walk round after
    round (tests/e2e/soak.py), then check every walk and that none is stuck."""
    namespace = cluster.namespace("soak")
    names = [f"s{i:02d}" for i in range(rollouts)]
    operator = Operator(namespace, workdir / "operator-soak.log")
    seen = Seen()
    print(f"soak: seed {seed}, {kills} SIGKILLs over {rollouts} rollouts", flush=True)
    try:
        cluster.create(namespace, names, "2s")
        operator.start()
        cluster.wait_phases(namespace, "Initialized", rollouts, 300)
        watches = Watches(cluster.api, namespace, seen)
        time.sleep(1)  # the watches' initial lists
        started = time.monotonic()
        driver = soaking.Soak(
            SoakRollouts(cluster, namespace), operator, seen.walks, names, seed, rounds
        )
        plan = driver.drive(kills)
        killed = time.monotonic()
        phases = soaking.settle(plan, seen.walks, driver.rollouts.phases, 300)
        wall, settle = time.monotonic() - started, time.monotonic() - killed
        time.sleep(1)
        watches.stop()
    finally:
        operator.stop()
        cluster.delete(namespace)
    problems = soaking.problems(plan, seen.walks(), phases)
    aborted = sum(plan.aborts.values())
    print(
        f"soak: seed {seed}: {plan.kills} SIGKILLs ({plan.startup_kills} during start-up), "
        f"{rollouts} rollouts, {plan.walks} walks "
        f"checked ({aborted} aborted), {len(seen.pairs)} route versions; wall {wall:.0f} s "
        f"({settle:.0f} s to settle once the last restart was ready); {len(problems)} violations"
    )
    for problem in problems:
        print(f"  {problem}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,250,500")
    parser.add_argument("--pause", type=float, default=5.0)
    parser.add_argument("--soak", type=int, default=0, help="kill -9 soak with this many kills")
    parser.add_argument("--soak-rollouts", type=int, default=12)
    parser.add_argument(
        "--soak-rounds", type=int, default=20, help="new images per rollout, at most"
    )
    parser.add_argument("--seed", type=int, default=None, help="the soak's seed (random if unset)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "scale-bench")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster()
    if args.soak:
        seed = random.randrange(2**31) if args.seed is None else args.seed
        return (
            1
            if soak(cluster, args.soak, args.soak_rollouts, args.soak_rounds, seed, args.workdir)
            else 0
        )
    figures = []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"N={n}: setting up, initializing, triggering ...", flush=True)
        figures.append(measure(cluster, n, args.pause, args.workdir))
        print(
            json.dumps({k: v for k, v in figures[-1].__dict__.items() if not isinstance(v, list)})
        )
    report(figures)
    return 1 if any(f.problems for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
