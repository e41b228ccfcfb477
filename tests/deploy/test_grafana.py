"""The Grafana dashboard: generated from its table, importable as it is, reading metrics the app writes."""

from __future__ import annotations

import json
import re

from deploy.grafana import panels
from deploy.prometheus import rules
from tests.deploy.test_prometheus_rules import exported_names, metric_names


def dashboard() -> dict:
    return json.loads(panels.DASHBOARD_FILE.read_text())


def test_the_committed_dashboard_is_the_generated_one():
    assert panels.DASHBOARD_FILE.read_text() == panels.text(), "stale: run `python -m deploy.grafana.panels`"


def test_the_dashboard_imports_as_it_is():
    """No data source of one installation baked in: a data source variable every panel and query uses."""
    board = dashboard()
    assert board["schemaVersion"] == 39 and board["uid"] == panels.UID and "id" not in board
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    shown = [p for p in board["panels"] if p["type"] != "row"]
    assert {p["type"] for p in shown} <= {"timeseries", "stat"}
    for panel in shown:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["datasource"] == panel["datasource"] for t in panel["targets"])
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])


def test_panels_fit_the_grid_without_overlapping():
    cells = set()
    for panel in dashboard()["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24
        mine = {(x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & mine, panel["title"]
        cells |= mine


def test_the_dashboard_covers_what_an_operator_watches():
    read = set().union(*(metric_names(q) for q in panels.queries()))
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in read}
    expected = {re.sub(r"_(bucket|sum|count)$", "", name) for name in exported_names()}
    assert families == expected  # every metric the app writes is on a panel
    assert read <= exported_names()


def test_every_query_selects_the_job_and_the_node_variable():
    for expr in panels.queries():
        for selector in re.findall(r"bgremover_\w+\{([^}]*)\}|up\{([^}]*)\}", expr):
            labels = "".join(selector)
            assert labels.startswith(f'job="{rules.JOB}",instance=~"$instance"'), expr


def test_the_alert_bounds_are_drawn_where_the_alerts_look():
    drawn = {p["title"]: p for p in dashboard()["panels"] if p["type"] == "timeseries"}
    for title, bound in (
        ("Share of requests answered 5xx", rules.ERROR_RATIO),
        ("Single-image request latency", rules.LATENCY_P95_S),
        ("Share of unsure cut-outs by endpoint", rules.UNSURE_RATIO),
        ("Worker peak memory by node", rules.WORKER_RSS_BYTES),
    ):
        steps = drawn[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[-1]["value"] == bound
        assert drawn[title]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
