"""`kubectl imr report NAME`: the rollout's evidence report as an HTML file.

With the evidence directory readable here (the operator runs on this machine, or the PVC is
mounted) the page is built locally. Otherwise it is fetched from the operator (status.reportURL),
and if that cannot be reached either, built without the pairs, saying where they are.
"""

from __future__ import annotations

import sys
import urllib.request
import webbrowser
from pathlib import Path

from imagerollout.kube.client import ApiError, Kube
from imagerollout.report.page import attempt_from_rollout, build

FETCH_TIMEOUT = 10


def write_report(kube: Kube, namespace: str, name: str, output: Path | None, show: bool) -> int:
    rollout = kube.get_rollout(namespace, name)
    if rollout is None:
        raise LookupError(f"imagemodelrollout {namespace}/{name} not found")
    status = rollout.get("status") or {}
    evidence = (status.get("analysis") or {}).get("evidence")
    page = None
    if status.get("reportURL") and not (evidence and Path(evidence).is_dir()):
        page = _fetch(status["reportURL"])
    if page is None:
        try:
            events, problem = kube.list_events(namespace, name), None
        except ApiError as error:
            events, problem = [], str(error)
        page = build(attempt_from_rollout(rollout, events, problem))
    target = output or Path(f"{name}-report.html")
    target.write_text(page, encoding="utf-8")
    print(f"report: {target}")
    if show:
        webbrowser.open(target.resolve().as_uri())
    return 0


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as reply:
            text: str = reply.read().decode("utf-8")
            return text
    except (OSError, ValueError) as error:
        print(f"cannot fetch {url} ({error}); building the page here", file=sys.stderr)
        return None
