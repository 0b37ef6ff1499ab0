"""Least privilege, proven: the operator runs a whole rollout with the chart's ServiceAccount token.

For each RBAC layout of the chart, the test applies the rendered ServiceAccount and roles
(`helm template | kubectl apply`), mints a token for that ServiceAccount (`kubectl create
token`) and runs the operator process with it, through a recording proxy, until the rollout has
Succeeded. Then:
- nothing the operator asked for was refused, and its log shows no permission problem;
- every rule the chart grants was used by that run (the one exception is documented: the
  finalizers permission is checked by an admission plugin, it is not a request);
- a request outside the role, with the same token, is Forbidden.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import Cluster, kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.rollout_env import DEMO, RolloutEnv, timed_steps
from tests.packaging.apiproxy import Access, RecordingProxy, Request, access, granted
from tests.packaging.chart import Manifest, of_kind, render
from tests.packaging.cleanup import delete_rollout

pytestmark = pytest.mark.e2e

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
# Granted but never requested: the OwnerReferencesPermissionEnforcement admission plugin checks
# it when the operator creates objects whose ownerReference sets blockOwnerDeletion.
NOT_A_REQUEST = {("imagerollout.dev", "imagemodelrollouts/finalizers", "update")}
# Used only by rollouts with quality gates (spec.analysis.suite.configMapRef); the rollouts here
# have none, so the run must not need it, and a token check shows it is the only ConfigMap verb.
ANALYSIS_ONLY = {("", "configmaps", "get")}
# Used only by the other traffic providers (Istio, Inference Extension); the rollouts here route
# with Gateway API. tests/e2e/test_traffic_providers.py runs each provider end to end. (Their
# list and watch are used by every run: the informers, the CRDs being installed.)
OTHER_PROVIDERS = {
    ("networking.istio.io", "virtualservices", "get"),
    ("networking.istio.io", "virtualservices", "update"),
    ("networking.istio.io", "destinationrules", "get"),
    ("inference.networking.k8s.io", "inferencepools", "get"),
}
# Used only when a pinned capability is released (spec.capabilities with Pin): its fallback
# Deployment and Service are deleted. test_a_released_pin_deletes_its_fallback proves it.
CAPABILITIES_ONLY = {("apps", "deployments", "delete"), ("", "services", "delete")}
# What kopf asks for cluster-wide when it cannot (rbac.discovery=false): it logs and falls back.
KOPF_OBSERVERS = frozenset(
    {("apiextensions.k8s.io", "customresourcedefinitions"), ("", "namespaces")}
)


@dataclass
class Credentials:
    """A kubeconfig through the recording proxy, one straight to the API server, same token."""

    via_proxy: Path
    direct: Path


def _admin_cluster(cluster: Cluster) -> dict[str, Any]:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    entry: dict[str, Any] = config["clusters"][0]["cluster"]
    return entry


def _kubeconfig(path: Path, server: str, token: str, ca: str | None, namespace: str) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "operator"}}],
        "current-context": "c",
    }
    config["contexts"][0]["context"]["namespace"] = namespace  # type: ignore[index]
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@dataclass
class Installed:
    manifests: list[Manifest]
    release_namespace: str
    service_account: str

    def rules(self) -> list[dict[str, Any]]:
        return [r for m in of_kind(self.manifests, "ClusterRole", "Role") for r in m["rules"]]

    def cluster_scoped(self) -> list[Manifest]:
        return of_kind(self.manifests, "ClusterRole", "ClusterRoleBinding")


@pytest.fixture
def release_namespace(cluster: Cluster) -> Iterator[str]:
    """Where the chart's ServiceAccount lives (not where the rollout runs)."""
    name = f"e2e-op-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def install_rbac(
    cluster: Cluster, release_namespace: str, values: dict[str, str]
) -> Iterator[Installed]:
    release = f"rbac-{uuid.uuid4().hex[:8]}"
    manifests = of_kind(render(release, release_namespace, values), *RBAC_KINDS)
    cluster.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(manifests))
    (account,) = of_kind(manifests, "ServiceAccount")
    installed = Installed(manifests, release_namespace, account["metadata"]["name"])
    try:
        yield installed
    finally:
        for m in installed.cluster_scoped():
            cluster.kubectl("delete", m["kind"], m["metadata"]["name"], "--wait=false", check=False)


def credentials(
    cluster: Cluster, installed: Installed, proxy_url: str, workdir: Path, namespace: str
) -> Credentials:
    token = cluster.kubectl(
        "-n",
        installed.release_namespace,
        "create",
        "token",
        installed.service_account,
        "--duration=1h",
    ).stdout.strip()
    assert token.count(".") == 2, "kubectl create token did not print a JWT"
    admin = _admin_cluster(cluster)
    return Credentials(
        via_proxy=_kubeconfig(workdir / "via-proxy.kubeconfig", proxy_url, token, None, namespace),
        direct=_kubeconfig(
            workdir / "direct.kubeconfig",
            admin["server"],
            token,
            admin["certificate-authority"],
            namespace,
        ),
    )


def forbidden(kubeconfig: Path, *args: str) -> str:
    """Run kubectl with the operator's token; assert the API server refused it; return stderr."""
    result = kubectl(kubeconfig, *args, check=False)
    assert result.returncode != 0, f"kubectl {' '.join(args)} was allowed: {result.stdout}"
    assert "Forbidden" in result.stderr or "forbidden" in result.stderr, result.stderr
    return result.stderr


def can_i(kubeconfig: Path, *args: str) -> bool:
    result = kubectl(kubeconfig, "auth", "can-i", *args, check=False)
    return result.stdout.strip() == "yes"


@dataclass
class Run:
    env: RolloutEnv
    proxy: RecordingProxy
    creds: Credentials
    log: str


def run_rollout(
    cluster: Cluster,
    installed: Installed,
    namespace: str,
    tmp_path: Path,
    tolerated: frozenset[tuple[str, str]] = frozenset(),
    logged: str = "",
) -> Run:
    """The operator, with the ServiceAccount's token, through a whole rollout to Succeeded
    (and, when given, until its log shows `logged`)."""

    def rollout(env: RolloutEnv, proxy: RecordingProxy) -> None:
        env.deploy(timed_steps(5, 50, 100, hold="1s"))
        env.set_model("v2")
        status = wait_or_refused(env, proxy, tolerated, "phase Succeeded", succeeded)
        assert status["stable"]["model"] == "registry.example/imagegen:v2"
        assert env.route_weights()["imagegen-primary"] == 100
        page = report_page(env)  # the timeline needs `list events`
        assert "Events unreadable" not in page
        assert "RolloutPromoted" in page
        if logged:
            wait_for(lambda: logged in operator_log(tmp_path), 90, 0.5, f"log line {logged!r}")

    return with_operator(cluster, installed, namespace, tmp_path, rollout)


def report_page(env: RolloutEnv) -> str:
    """The evidence report the operator serves on its metrics port (status.reportURL)."""
    url = env.status()["reportURL"]
    assert url == f"http://127.0.0.1:{env.operator.metrics_port}/reports/{env.namespace}/imagegen"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text: str = reply.read().decode()
        return text


def succeeded(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Succeeded"


def wait_or_refused(
    env: RolloutEnv,
    proxy: RecordingProxy,
    tolerated: frozenset[tuple[str, str]],
    what: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 120,
) -> dict[str, Any]:
    """Wait until done(status); fail at once if the API server refuses the operator anything."""

    def settled() -> dict[str, Any] | None:
        if refused(proxy, tolerated):  # the rollout cannot finish now
            return {"refused": refused(proxy, tolerated)}
        status = env.status()
        return status if done(status) else None

    status: dict[str, Any] = wait_for(settled, timeout, 0.3, f"{what}, or a refused request")
    assert "refused" not in status, f"the API server refused the operator: {status}"
    return status


def with_operator(
    cluster: Cluster,
    installed: Installed,
    namespace: str,
    tmp_path: Path,
    scenario: Callable[[RolloutEnv, RecordingProxy], None],
    extra_env: dict[str, str] | None = None,
) -> Run:
    """Run `scenario` with the operator on the ServiceAccount's token, behind the proxy."""
    admin = _admin_cluster(cluster)
    proxy = RecordingProxy(admin["server"], Path(admin["certificate-authority"]))
    proxy_url = proxy.start()
    creds = credentials(cluster, installed, proxy_url, tmp_path, namespace)
    election = {  # as the chart's Deployment sets it; short, so the run renews the Lease
        "IMAGEROLLOUT_LEADER_ELECT": "true",
        "IMAGEROLLOUT_LEASE_NAMESPACE": installed.release_namespace,
        "IMAGEROLLOUT_LEASE_NAME": installed.service_account,
        "IMAGEROLLOUT_LEASE_SECONDS": "4",
    }
    operator = OperatorProcess(creds.via_proxy, namespace, tmp_path, election | (extra_env or {}))
    env = RolloutEnv(cluster, namespace, operator)
    operator.start()
    try:
        scenario(env, proxy)
        delete_with_operator(env, proxy, tmp_path)
    finally:
        operator.stop()
        proxy.stop()
    return Run(env, proxy, creds, operator_log(tmp_path))


def operator_log(log_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(log_dir.glob("operator-*.log")))


def delete_with_operator(env: RolloutEnv, proxy: RecordingProxy, log_dir: Path) -> None:
    """Delete the rollout while the operator runs; on failure, say what it and the proxy saw."""
    seen = len(proxy.requests())
    try:
        delete_rollout(env.cluster, env.namespace, "imagegen")
    except AssertionError as error:
        since = "\n".join(map(str, proxy.requests()[seen:]))
        raise AssertionError(
            f"{error}\nrequests since the delete:\n{since}\n"
            f"operator log:\n{operator_log(log_dir)[-4000:]}"
        ) from None


def used(run: Run) -> set[Access]:
    return run.proxy.accesses()


def triples(accesses: set[Access]) -> set[tuple[str, str, str]]:
    return {(a.group, a.resource, a.verb) for a in accesses}


def refused(
    proxy: RecordingProxy, tolerated: frozenset[tuple[str, str]] = frozenset()
) -> list[Request]:
    """Requests the API server refused, except those on (group, resource) pairs in tolerated."""

    def kind(r: Request) -> tuple[str, str] | None:
        found = access(r.method, r.path, r.query)
        return None if found is None else (found.group, found.resource)

    return [r for r in proxy.requests() if r.status in (401, 403) and kind(r) not in tolerated]


def assert_least_privilege(run: Run, installed: Installed) -> None:
    assert not refused(run.proxy), f"the API server refused: {refused(run.proxy)}"
    assert "Forbidden" not in run.log, run.log[-3000:]
    assert "Not enough permissions" not in run.log, run.log[-3000:]
    grants = granted(installed.rules())
    calls = triples(used(run))
    assert calls <= grants, f"used without a grant: {sorted(calls - grants)}"
    unused = grants - calls
    expected = NOT_A_REQUEST | ANALYSIS_ONLY | OTHER_PROVIDERS | CAPABILITIES_ONLY
    assert unused == expected, f"granted but never used: {sorted(unused)}"
    namespace = run.env.namespace
    assert can_i(run.creds.direct, "get", "configmaps", "-n", namespace)
    for verb in ("list", "watch", "create", "update", "delete"):
        assert not can_i(run.creds.direct, verb, "configmaps", "-n", namespace), verb


def summary(run: Run) -> str:
    rows = sorted(used(run))
    return "\n".join(f"  {a.verb:6} {a.group or 'core'}/{a.resource} {a.namespace}" for a in rows)


@pytest.fixture
def cluster_scope(
    cluster: Cluster, crd: None, namespace: str, release_namespace: str
) -> Iterator[Installed]:
    values = {"rbac.scope": '"cluster"', "watchNamespaces": json.dumps([namespace])}
    yield from install_rbac(cluster, release_namespace, values)


@pytest.fixture
def namespace_scope(
    cluster: Cluster, crd: None, namespace: str, release_namespace: str
) -> Iterator[Installed]:
    values = {"rbac.scope": '"namespace"', "watchNamespaces": json.dumps([namespace])}
    yield from install_rbac(cluster, release_namespace, values)


@pytest.fixture
def namespace_scope_no_discovery(
    cluster: Cluster, crd: None, namespace: str, release_namespace: str
) -> Iterator[Installed]:
    values = {
        "rbac.scope": '"namespace"',
        "rbac.discovery": "false",
        "watchNamespaces": json.dumps([namespace]),
    }
    yield from install_rbac(cluster, release_namespace, values)


def test_cluster_scope_runs_a_rollout_with_exactly_the_granted_permissions(
    cluster: Cluster, cluster_scope: Installed, namespace: str, tmp_path: Path
) -> None:
    kinds = sorted(m["kind"] for m in cluster_scope.manifests)
    assert kinds == [
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterRoleBinding",
        "Role",  # the Lease, in the release's namespace
        "RoleBinding",
        "ServiceAccount",
    ]
    run = run_rollout(cluster, cluster_scope, namespace, tmp_path)
    print(f"requests of the operator (cluster scope):\n{summary(run)}")
    assert_least_privilege(run, cluster_scope)
    namespaced = {a.namespace for a in used(run) if a.namespace}
    assert namespaced == {namespace, cluster_scope.release_namespace}
    leases = {a for a in used(run) if a.resource == "leases"}
    assert {a.namespace for a in leases} == {cluster_scope.release_namespace}

    direct = run.creds.direct
    # What the same operator would need cluster-wide (no --namespace): granted.
    for verb in ("list", "watch"):
        assert can_i(direct, verb, "imagemodelrollouts.imagerollout.dev", "--all-namespaces")
    kubectl(direct, "get", "imagemodelrollouts.imagerollout.dev", "--all-namespaces")
    # Outside the role: Secrets anywhere, deleting what it manages.
    message = forbidden(direct, "get", "secrets", "-n", "kube-system")
    assert 'cannot list resource "secrets"' in message
    forbidden(direct, "get", "secrets", "-n", namespace)
    forbidden(direct, "-n", namespace, "delete", "httproute", "imagegen", "--wait=false")
    assert not can_i(direct, "delete", "httproutes.gateway.networking.k8s.io", "-n", namespace)
    assert not can_i(direct, "create", "pods", "-n", namespace)


def test_namespace_scope_runs_a_rollout_and_cannot_reach_other_namespaces(
    cluster: Cluster, namespace_scope: Installed, namespace: str, tmp_path: Path
) -> None:
    roles = of_kind(namespace_scope.manifests, "Role", "RoleBinding")
    assert {m["metadata"]["namespace"] for m in roles} == {
        namespace,
        namespace_scope.release_namespace,  # the Lease only
    }
    (discovery,) = of_kind(namespace_scope.manifests, "ClusterRole")
    assert granted(discovery["rules"]) == {
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }
    run = run_rollout(cluster, namespace_scope, namespace, tmp_path)
    print(f"requests of the operator (namespace scope):\n{summary(run)}")
    assert_least_privilege(run, namespace_scope)
    cluster_wide = {(a.group, a.resource) for a in used(run) if not a.namespace}
    assert cluster_wide == KOPF_OBSERVERS

    direct = run.creds.direct
    other = namespace_scope.release_namespace
    message = forbidden(direct, "get", "secrets", "-n", "kube-system")
    assert 'cannot list resource "secrets"' in message
    forbidden(direct, "get", "secrets", "-n", namespace)
    forbidden(direct, "get", "deployments.apps", "-n", other)
    forbidden(direct, "get", "imagemodelrollouts.imagerollout.dev", "--all-namespaces")
    assert not can_i(direct, "create", "deployments.apps", "-n", "default")
    assert can_i(direct, "create", "deployments.apps", "-n", namespace)


def test_namespace_scope_without_cluster_roles_still_completes_a_rollout(
    cluster: Cluster, namespace_scope_no_discovery: Installed, namespace: str, tmp_path: Path
) -> None:
    """For tenants who may not create ClusterRoles: kopf warns, falls back; the rollout works."""
    installed = namespace_scope_no_discovery
    assert not installed.cluster_scoped()
    # kopf gives up on its observers after its retries, which can outlast a quick rollout.
    run = run_rollout(
        cluster, installed, namespace, tmp_path, KOPF_OBSERVERS, "Not enough permissions"
    )
    refusals = {
        (a.group, a.resource)
        for r in run.proxy.requests()
        if r.status == 403 and (a := access(r.method, r.path, r.query)) is not None
    }
    assert refusals == KOPF_OBSERVERS, f"refused: {refusals}"
    assert not refused(run.proxy, KOPF_OBSERVERS)
    assert "Not enough permissions" in run.log
    calls = {t for t in triples(used(run)) if (t[0], t[1]) not in KOPF_OBSERVERS}
    assert calls <= granted(installed.rules())
    forbidden(run.creds.direct, "get", "namespaces")


SUITE = Path(__file__).parent / "data" / "small_suite.yaml"


def test_quality_gates_need_only_get_on_their_suite_configmap(
    cluster: Cluster, namespace_scope: Installed, namespace: str, tmp_path: Path
) -> None:
    """A rollout with spec.analysis: the suite ConfigMap is read with the granted `get`."""

    def sampled(status: dict[str, Any]) -> bool:
        analysis = status.get("analysis") or {}
        return int(analysis.get("samples", 0)) >= 4 or status.get("phase") == "Succeeded"

    def rollout_with_gates(env: RolloutEnv, proxy: RecordingProxy) -> None:
        with (
            demo_server(tmp_path, "baseline") as baseline,
            demo_server(tmp_path, "canary") as canary,
        ):
            env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
            manifest = yaml.safe_load((DEMO / "rollout.yaml").read_text())
            manifest["spec"]["steps"] = timed_steps(5, 100, hold="1s")
            manifest["spec"]["analysis"] = {
                "suite": {"configMapRef": {"name": "suite", "key": "suite.yaml"}},
                "endpoints": {"baseline": {"url": baseline}, "canary": {"url": canary}},
                "gates": [{"name": "text", "metric": "OCRAccuracy", "maxDegradation": "10"}],
                "minSamples": 4,
                "stage0": {"samples": 8, "batchSize": 4},
                "evidence": {"path": str(tmp_path / "evidence"), "retainRollouts": 1},
            }
            env.kubectl("apply", "-f", str(DEMO / "imagegen.yaml"))
            env.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
            env.wait_phase("Initialized")
            env.set_model("v2")
            wait_or_refused(env, proxy, frozenset(), "4 sampled pairs", sampled, timeout=180)

    allow = {"IMAGEROLLOUT_ENDPOINT_ALLOWLIST": "http://127.0.0.1:*"}
    run = with_operator(cluster, namespace_scope, namespace, tmp_path, rollout_with_gates, allow)
    assert not refused(run.proxy)
    calls = triples(used(run))
    assert calls >= ANALYSIS_ONLY, "the suite ConfigMap was not read"
    assert calls <= granted(namespace_scope.rules()), sorted(
        calls - granted(namespace_scope.rules())
    )
    configmaps = {a for a in used(run) if a.resource == "configmaps"}
    assert configmaps == {Access("", "configmaps", "get", namespace)}


def test_a_released_pin_deletes_its_fallback(
    cluster: Cluster, namespace_scope: Installed, namespace: str, tmp_path: Path
) -> None:
    """A pin whose capability left the spec is released: the granted `delete` removes the
    fallback Deployment and Service (tests/e2e/test_capabilities.py shows the whole story)."""
    fallback = "imagegen-fallback-typography"

    def release(env: RolloutEnv, proxy: RecordingProxy) -> None:
        env.deploy(timed_steps(100, hold="1s"))
        env.kubectl("create", "deployment", fallback, "--image=registry.example/imagegen:v1")
        env.kubectl("create", "service", "clusterip", fallback, "--tcp=8080:8080")
        pin = {"capability": "typography", "model": "registry.example/imagegen:v1",
               "revision": "0123456789", "why": "text/logos failed"}  # fmt: skip
        env.patch_status({"pins": [pin]})
        wait_or_refused(env, proxy, frozenset(), "the pin released", lambda s: not s.get("pins"))
        wait_for(
            lambda: (
                "NotFound"
                in env.cluster.kubectl(
                    "-n", namespace, "get", "deployment", fallback, check=False
                ).stderr
            ),
            30,
            0.2,
            "the fallback Deployment deleted",
        )

    run = with_operator(cluster, namespace_scope, namespace, tmp_path, release)
    assert not refused(run.proxy)
    calls = {a for a in used(run) if a.verb == "delete"}
    assert triples(calls) == CAPABILITIES_ONLY
    assert triples(calls) <= granted(namespace_scope.rules())


@pytest.mark.parametrize("scope", ["cluster", "namespace"])
def test_metric_provider_secrets_are_readable_by_name_only(
    cluster: Cluster, crd: None, namespace: str, release_namespace: str, tmp_path: Path, scope: str
) -> None:
    values = {
        "rbac.scope": f'"{scope}"',
        "watchNamespaces": json.dumps([namespace]),
        "rbac.metricProviderSecrets": json.dumps(["prom-auth"]),
    }
    for installed in install_rbac(cluster, release_namespace, values):
        creds = credentials(cluster, installed, "http://127.0.0.1:1", tmp_path, namespace)
        cluster.kubectl("-n", namespace, "create", "secret", "generic", "prom-auth",
                        "--from-literal=token=t")  # fmt: skip
        cluster.kubectl("-n", namespace, "create", "secret", "generic", "other",
                        "--from-literal=token=t")  # fmt: skip
        got = kubectl(creds.direct, "-n", namespace, "get", "secret", "prom-auth", "-o", "name")
        assert got.stdout.strip() == "secret/prom-auth"
        forbidden(creds.direct, "-n", namespace, "get", "secret", "other")
        forbidden(creds.direct, "-n", namespace, "get", "secrets")
        assert not can_i(creds.direct, "watch", "secrets", "-n", namespace)
        # A ClusterRole grants the name in every namespace; a Role only where it is bound.
        other_namespace = can_i(creds.direct, "get", "secret/prom-auth", "-n", "kube-system")
        assert other_namespace is (scope == "cluster")
