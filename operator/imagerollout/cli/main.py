"""`imagerollout run | crd | judge | ctl`: the operator, the CRD generator, the judge for CI and
the on-call controls (`ctl` is kept for scripts; `kubectl imr` is the on-call tool)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from imagerollout.cli.controls import CONTROLS, apply_control

if TYPE_CHECKING:
    from imagerollout.controller.handlers import ScorerService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imagerollout")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator")
    run.add_argument("--namespace", action="append", help="watch only these namespaces")
    run.add_argument("--liveness", default="http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--metrics-address",
        default="0.0.0.0:9102",
        help="HOST:PORT for Prometheus /metrics; empty disables it",
    )
    run.add_argument(
        "--notifiers-secret",
        metavar="NAMESPACE/NAME",
        help="the Secret whose key providers.yaml lists the notification providers",
    )
    _election_arguments(run)
    run.add_argument(
        "--scorer-service",
        default=os.environ.get("IMAGEROLLOUT_SCORER_SERVICE", ""),
        help="[NAMESPACE/]NAME[:PORT-NAME] of the scorer Service; empty: score in-process",
    )
    scorer = commands.add_parser("scorer", help="serve OCR and perceptual scoring over HTTP")
    scorer.add_argument("--address", default="0.0.0.0:8090", help="HOST:PORT to listen on")
    scorer.add_argument(
        "--ocr-workers", type=int, default=int(os.environ.get("IMAGEROLLOUT_OCR_WORKERS", "2"))
    )
    crd = commands.add_parser("crd", help="print or write the generated CRD")
    crd.add_argument("--output", type=Path)
    ctl = commands.add_parser("ctl", help="the same as `kubectl imr ACTION NAME`")
    ctl.add_argument("action", choices=sorted(CONTROLS))
    ctl.add_argument("name")
    ctl.add_argument("-n", "--namespace", default="default")
    judge = commands.add_parser("judge", help="judge a canary endpoint against a baseline")
    from imagerollout.cli.judge import add_arguments

    add_arguments(judge)
    args = parser.parse_args(argv)
    if args.command == "judge":
        from imagerollout.cli.judge import run as run_judge

        return run_judge(args)
    if args.command == "crd":
        return _crd(args.output)
    if args.command == "ctl":
        return _ctl(args.action, args.name, args.namespace)
    if args.command == "scorer":
        from imagerollout.quality.scorer_server import serve

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        return serve(args.address, args.ocr_workers)
    if args.notifiers_secret:
        from imagerollout.controller.notifications import parse_secret_ref

        try:
            parse_secret_ref(args.notifiers_secret)
        except ValueError as error:
            parser.error(str(error))
        # kopf's startup handler builds the operator; it reads its configuration from there.
        os.environ["IMAGEROLLOUT_NOTIFIERS_SECRET"] = args.notifiers_secret
    return _run(args)


def _election_arguments(run: argparse.ArgumentParser) -> None:
    env = os.environ.get
    run.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=env("IMAGEROLLOUT_LEADER_ELECT", "false").lower() in ("1", "true", "yes"),
        help="act only while holding a coordination.k8s.io Lease (two or more replicas)",
    )
    run.add_argument("--lease-name", default=env("IMAGEROLLOUT_LEASE_NAME", "imagerollout"))
    run.add_argument(
        "--lease-namespace",
        default=env("IMAGEROLLOUT_LEASE_NAMESPACE") or env("POD_NAMESPACE"),
        help="default: the pod's namespace (POD_NAMESPACE) or the kubeconfig's",
    )
    run.add_argument(
        "--lease-duration",
        type=int,
        default=int(env("IMAGEROLLOUT_LEASE_SECONDS", "15")),
        help="seconds a standby waits for a silent leader before taking over",
    )


def _scorer_service(text: str) -> ScorerService:
    """[NAMESPACE/]NAME[:PORT-NAME]; the namespace defaults to the pod's (or the kubeconfig's)."""
    from imagerollout.controller.handlers import ScorerService
    from imagerollout.kube.client import current_namespace

    where, _, port_name = text.partition(":")
    namespace, _, name = where.rpartition("/")
    namespace = namespace or os.environ.get("POD_NAMESPACE") or current_namespace()
    return ScorerService(namespace, name, port_name or None)


def _crd(output: Path | None) -> int:
    from imagerollout.api.crd import crd_yaml

    text = crd_yaml()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
    return 0


def _ctl(action: str, name: str, namespace: str) -> int:
    from imagerollout.kube.client import Kube, load_config

    load_config()
    print(apply_control(Kube(), namespace, name, action))
    return 0


def _run(args: argparse.Namespace) -> int:
    import kopf

    from imagerollout.controller import handlers  # registers the handlers
    from imagerollout.controller.handlers import REPORT_BASE_ENV
    from imagerollout.kube.client import Kube, load_config
    from imagerollout.report.server import serve

    namespaces, liveness, metrics_address = args.namespace, args.liveness, args.metrics_address
    if args.leader_elect:
        from imagerollout.core.leader import Timing
        from imagerollout.kube.client import current_namespace

        Timing.for_duration(args.lease_duration)  # a bad value fails here, not in a thread
        lease_namespace = args.lease_namespace or current_namespace()
        handlers.election = handlers.Election(lease_namespace, args.lease_name, args.lease_duration)
    if args.scorer_service:
        handlers.scorer_service = _scorer_service(args.scorer_service)
    handlers.namespaces = namespaces

    if metrics_address:
        host, _, port = metrics_address.rpartition(":")
        if host not in ("", "0.0.0.0", "::"):  # a concrete address is where users reach it too
            os.environ.setdefault(REPORT_BASE_ENV, f"http://{metrics_address}")
        try:
            load_config()
            serve(host or "0.0.0.0", int(port), Kube())  # /metrics and /reports/<ns>/<name>
        except OSError as error:  # rollouts matter more than their dashboard
            logging.getLogger("imagerollout").error("no /metrics on %s: %s", metrics_address, error)

    kopf.configure(verbose=False)
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces or (),
        liveness_endpoint=liveness,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
