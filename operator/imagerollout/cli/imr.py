"""`kubectl imr`: the on-call plugin (kubectl finds the `kubectl-imr` entry point on PATH).

kubectl imr get NAME [--watch]     the rollout as a header and a tree of steps and gates
kubectl imr list [-A]              one line per rollout
kubectl imr promote NAME [--full]  and abort, retry, pause, resume
kubectl imr status NAME --timeout 10m
                                   exit 0 Succeeded, 1 Degraded, 2 timed out, 3 not found
kubectl imr report NAME [--open]   the HTML evidence report, written to a file
kubectl imr lint FILE              server dry-run plus the operator's own checks
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console

from imagerollout import KIND
from imagerollout.api.v1alpha1 import RolloutSpec
from imagerollout.cli.controls import apply_control
from imagerollout.cli.render import rollout_rows, rollout_view
from imagerollout.controller.observe import deployment_view
from imagerollout.controller.reconciler import router_for
from imagerollout.core.durations import parse_duration
from imagerollout.core.rollout.spec_check import spec_problem
from imagerollout.kube.client import ApiError, Kube, current_namespace, load_config

Object = dict[str, Any]
EXIT_SUCCEEDED, EXIT_DEGRADED, EXIT_TIMEOUT, EXIT_NOT_FOUND = 0, 1, 2, 3
ACTIONS = ("promote", "abort", "retry", "pause", "resume")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kubectl imr", description="ImageModelRollouts on call")
    commands = top.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, named: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        sub.add_argument("-n", "--namespace", help="default: the kubeconfig's namespace")
        if named:
            sub.add_argument("name")
        return sub

    get = command("get", "show a rollout: phase, steps, gates")
    get.add_argument("-w", "--watch", action="store_true", help="redraw on every change")
    get.add_argument("--timeout", default="24h", help="stop watching after this long")
    get.add_argument("--strata", action="store_true", help="every stratum cell, not only Fails")
    listing = command("list", "one line per rollout", named=False)
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    for action in ACTIONS:
        sub = command(action, f"{action} a rollout")
        if action == "promote":
            sub.add_argument("--full", action="store_true", help="skip the remaining steps")
    status = command("status", "wait for Succeeded (exit 0) or Degraded (exit 1)")
    status.add_argument("--timeout", default="10m")
    report = command("report", "write the HTML evidence report")
    report.add_argument("-o", "--output", type=Path, help="default: NAME-report.html")
    report.add_argument("--open", action="store_true", help="open it in a browser")
    lint = command("lint", "check a rollout manifest without applying it", named=False)
    lint.add_argument("file", type=Path)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    load_config()
    kube = Kube()
    namespace = getattr(args, "namespace", None) or current_namespace()
    # Piped, a line is as long as it needs (grep, CI logs); on a terminal, the terminal's width.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 400)
    try:
        return _dispatch(args, kube, namespace, console)
    except LookupError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_FOUND if error.status == 404 else 4


def _dispatch(args: argparse.Namespace, kube: Kube, namespace: str, console: Console) -> int:
    if args.command == "get":
        timeout = parse_seconds(args.timeout)
        return get(kube, namespace, args.name, console, args.watch, timeout, args.strata)
    if args.command == "list":
        scope = None if args.all_namespaces else namespace
        console.print(rollout_rows(kube.list_rollouts(scope), args.all_namespaces))
        return 0
    if args.command in ACTIONS:
        action = "promote-full" if getattr(args, "full", False) else args.command
        print(apply_control(kube, namespace, args.name, action))
        return 0
    if args.command == "status":
        return wait_status(kube, namespace, args.name, parse_seconds(args.timeout))
    if args.command == "report":
        from imagerollout.cli.report import write_report

        return write_report(kube, namespace, args.name, args.output, args.open)
    return lint(kube, args.file, namespace)


def parse_seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


def observed_weight(kube: Kube, rollout: Object) -> int | None:
    """The canary weight the HTTPRoute has now, as the operator reads it."""
    meta = rollout["metadata"]
    try:
        spec = RolloutSpec.model_validate(rollout["spec"])
        router = router_for(kube, spec, meta["namespace"], meta["name"])
        return router.observe().canary_weight
    except (ValidationError, ValueError, ApiError):
        return None


def get(
    kube: Kube,
    namespace: str,
    name: str,
    console: Console,
    watch: bool,
    timeout: float,
    strata: bool = False,
) -> int:
    rollout = kube.get_rollout(namespace, name)
    if rollout is None:
        raise LookupError(f"imagemodelrollout {namespace}/{name} not found")
    if not watch:
        console.print(
            rollout_view(rollout, observed_weight(kube, rollout), console.is_terminal, strata)
        )
        return 0
    views = (
        rollout_view(obj, observed_weight(kube, obj), console.is_terminal, strata)
        for obj in kube.watch_rollout(namespace, name, timeout)
    )
    if console.is_terminal:
        from rich.live import Live

        with Live(console=console, auto_refresh=False) as live:
            for view in views:
                live.update(view, refresh=True)
        return 0
    last = ""
    for view in views:  # piped: the whole view again, only when its text changed
        with console.capture() as captured:
            console.print(view)
        text = captured.get()
        if text != last:
            sys.stdout.write(("\n" if last else "") + text)
            sys.stdout.flush()
            last = text
    return 0


def wait_status(kube: Kube, namespace: str, name: str, timeout: float) -> int:
    """Exit 0 once Succeeded on the target's current revision, 1 once Degraded."""
    if kube.get_rollout(namespace, name) is None:
        raise LookupError(f"imagemodelrollout {namespace}/{name} not found")
    started = time.monotonic()
    for rollout in kube.watch_rollout(namespace, name, timeout):
        status = rollout.get("status") or {}
        phase, message = status.get("phase"), status.get("message", "")
        if phase == "Degraded":
            print(f"{namespace}/{name}: Degraded: {message}")
            return EXIT_DEGRADED
        if phase == "Succeeded" and _on_target(kube, rollout):
            print(f"{namespace}/{name}: Succeeded: {message}")
            return EXIT_SUCCEEDED
    waited = time.monotonic() - started
    print(f"{namespace}/{name}: still not done after {waited:.0f}s", file=sys.stderr)
    return EXIT_TIMEOUT


def _on_target(kube: Kube, rollout: Object) -> bool:
    """Succeeded counts only for the target's current template, not the previous rollout's."""
    meta, spec = rollout["metadata"], rollout.get("spec") or {}
    target_name = (spec.get("targetRef") or {}).get("name", "")
    target = deployment_view(
        kube.get_object("apps/v1", "deployments", meta["namespace"], target_name)
    )
    stable = (rollout.get("status") or {}).get("stable") or {}
    return target is not None and target.revision == stable.get("revision")


def lint(kube: Kube, path: Path, namespace: str) -> int:
    """Every ImageModelRollout in FILE: the models' checks, spec_problem, then server dry-run."""
    problems = 0
    documents = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    rollouts = [d for d in documents if d.get("kind") == KIND]
    if not rollouts:
        print(f"{path}: no {KIND} found", file=sys.stderr)
        return 1
    for obj in rollouts:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
        name = obj["metadata"].get("name", "?")
        found = lint_problems(kube, obj)
        for problem in found:
            print(f"{path}: {name}: {problem}")
        if not found:
            print(f"{path}: {name}: ok")
        problems += len(found)
    return 1 if problems else 0


def lint_problems(kube: Kube, obj: Object) -> list[str]:
    try:
        kube.dry_run_apply(obj)  # the API server's schema and CEL rules, with their messages
    except ApiError as error:
        return [f"rejected by the API server: {error}"]
    try:
        spec = RolloutSpec.model_validate(obj.get("spec") or {})
    except ValidationError as error:
        return [
            f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in error.errors(include_url=False)
        ]
    problem = spec_problem(spec)
    return [problem] if problem else []


if __name__ == "__main__":
    raise SystemExit(main())
