"""The Grafana dashboard: well-formed panels, only series the operator exports, valid PromQL.

PromQL validity is checked by a real Prometheus (promtool 2.42 cannot check expressions): a
server with an empty TSDB answers each query with "success" or a parse error.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from imagerollout.api.v1alpha1 import AnalysisStatus, GateStatus, Phase, Revision, RolloutStatus
from imagerollout.telemetry import OperatorMetrics
from tests.e2e.helpers import wait_for
from tests.e2e.operator_process import free_port

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "imagerollout.json"
PROMETHEUS = "/usr/bin/prometheus"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Coming with the Prometheus (production-traffic) gates; harmless once OperatorMetrics has them.
COMING = {
    "imagerollout_metric_gate_value": {"namespace", "name", "gate", "arm"},
    "imagerollout_metric_gate_windows_total": {"namespace", "name", "gate", "verdict"},
}
VARIABLES = {
    "$namespace": "models",
    "$rollout": "imagegen",
    "$__rate_interval": "1m",
    "$__interval": "30s",
}
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NAME = re.compile(r"(?<![\w:.])[a-zA-Z_:][\w:]*+(?!\s*\()")
_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$")


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def panels() -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = load()["panels"]
    return result


def expressions() -> list[Any]:
    return [
        pytest.param(t["expr"], id=f"{p['title']}/{t['refId']}")
        for p in panels()
        for t in p["targets"]
    ]


def variable(name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [v for v in load()["templating"]["list"] if v["name"] == name]
    assert len(found) == 1, f"{len(found)} variables named {name}"
    return found[0]


def concrete(expr: str) -> str:
    """The expression as Grafana sends it, with the dashboard's variables filled in."""
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown variable left in {expr!r}"
    return expr


# ---------------------------------------------------------------- what the operator exports


def sample_status() -> RolloutStatus:
    """A rollout mid-analysis, so that every labelled series shows its labels."""
    gate = GateStatus(
        gate="text/logos",
        verdict="Pass",
        samples=12,
        baseline="0.9",
        canary="0.91",
        effect="0.01",
        lower="-0.02",
        upper="0.04",
    )
    return RolloutStatus(
        phase=Phase.PROGRESSING,
        canary_weight=25,
        stable=Revision(revision="a", model="m:v1"),
        canary=Revision(revision="b", model="m:v2"),
        analysis=AnalysisStatus(samples=40, gates=[gate]),
    )


def exported() -> dict[str, set[str]]:
    """Series names in a real OperatorMetrics exposition, each with its label names."""
    registry = CollectorRegistry()
    OperatorMetrics(registry).record("ns", "imr", sample_status())
    series: dict[str, set[str]] = {name: set(labels) for name, labels in COMING.items()}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for suffix in SERIES_SUFFIXES.get(family.type, ()):
            series.setdefault(family.name + suffix, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


# ---------------------------------------------------------------- reading PromQL


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects: identifiers not called, quoted or grouped."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    return {m.group() for m in _NAME.finditer(text)} - KEYWORDS


def matcher_labels(expr: str) -> dict[str, set[str]]:
    """The label names each selector matches on, by metric name."""
    found: dict[str, set[str]] = {}
    for match in _SELECTOR.finditer(_STRING.sub('""', expr)):
        found.setdefault(match.group(1), set()).update(_MATCHER.findall(match.group(2)))
    return found


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for group in _GROUPING.findall(expr)
        for label in group.split(",")
        if label.strip()
    }


def test_reading_promql_finds_names_and_labels() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="b,c", d!~"{e}"}[5m])))'
        " / on (le) up offset 5m"
    )
    assert metric_names(expr) == {"x_bucket", "up"}
    assert matcher_labels(expr) == {"x_bucket": {"a", "d"}}
    assert grouping_labels(expr) == {"le"}


# ---------------------------------------------------------------- structure


def test_every_panel_has_a_title_the_datasource_and_targets() -> None:
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels():
        assert panel.get("title"), panel
        assert panel.get("datasource") == DATASOURCE, panel["title"]
        assert panel.get("targets"), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource") == DATASOURCE, panel["title"]
            assert target.get("expr", "").strip(), panel["title"]


def test_the_dashboard_header() -> None:
    dashboard = load()
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"] == "imagerollout"
    datasource = variable("datasource")
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")


def test_namespace_and_rollout_variables_list_real_labels() -> None:
    series = exported()
    queries = {name: variable(name)["query"] for name in ("namespace", "rollout")}
    assert queries == {
        "namespace": "label_values(imagerollout_canary_weight_percent, namespace)",
        "rollout": 'label_values(imagerollout_canary_weight_percent{namespace="$namespace"}, name)',
    }
    for name, query in queries.items():
        assert variable(name)["datasource"] == DATASOURCE
        match = _LABEL_VALUES.match(query)
        assert match is not None, query
        (metric,) = metric_names(match.group(1))
        assert match.group(2) in series[metric], f"{metric} has no label {match.group(2)}"


def test_panels_cover_every_operator_metric() -> None:
    used = set().union(*(metric_names(t["expr"]) for p in panels() for t in p["targets"]))
    wanted = {
        "imagerollout_canary_weight_percent",
        "imagerollout_rollout_info",
        "imagerollout_gate_evaluations_total",
        "imagerollout_gate_value",
        "imagerollout_gate_effect_bound",
        "imagerollout_analysis_pairs",
        "imagerollout_reconcile_duration_seconds_bucket",
        "imagerollout_decision_duration_seconds_bucket",
        *COMING,
    }
    assert wanted <= used, f"no panel for {sorted(wanted - used)}"


@pytest.mark.parametrize("expr", expressions())
def test_expressions_use_only_exported_series_and_labels(expr: str) -> None:
    series = exported()
    names = metric_names(expr)
    assert names, f"no metric in {expr!r}"
    assert names <= series.keys(), f"not exported: {sorted(names - series.keys())}"
    for name, labels in matcher_labels(expr).items():
        assert labels <= series[name], f"{name} has no label {sorted(labels - series[name])}"
    available = set().union(*(series[name] for name in names))
    assert grouping_labels(expr) <= available, f"grouping by a label none of {names} has"


# ---------------------------------------------------------------- a real Prometheus


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus with no targets and an empty TSDB; yields its base URL."""
    root = tmp_path_factory.mktemp("prometheus")
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    url = f"http://127.0.0.1:{free_port()}"
    with (root / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address={url.removeprefix('http://')}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited {proc.returncode}; see {root}")
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return int(response.status) == 200

    try:
        wait_for(ready, 30, 0.2, "prometheus /-/ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def query(base_url: str, expr: str) -> dict[str, Any]:
    url = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
    except HTTPError as error:  # a bad query is HTTP 400 with a JSON body saying why
        answer = json.load(error)
    return answer


def test_prometheus_rejects_broken_promql(prometheus: str) -> None:
    answer = query(prometheus, "sum by (gate (imagerollout_gate_value)")
    assert answer["status"] == "error", answer


@pytest.mark.parametrize("expr", expressions())
def test_expressions_are_valid_promql(prometheus: str, expr: str) -> None:
    answer = query(prometheus, concrete(expr))
    assert answer["status"] == "success", answer


@pytest.mark.parametrize("name", ["namespace", "rollout"])
def test_variable_selectors_are_valid_promql(prometheus: str, name: str) -> None:
    match = _LABEL_VALUES.match(variable(name)["query"])
    assert match is not None
    answer = query(prometheus, concrete(match.group(1)))
    assert answer["status"] == "success", answer
