"""The alert rules: generated from their table, the same in both files, valid for promtool and unit-tested by it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from bgremover.web import observability
from deploy.prometheus import cases, rules
from tests.deploy.test_kubernetes import MASTER_MIB, WORKER_PEAK_MIB, app_container, manifest_env, mib
from tests.services import ROOT, require_binary

SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_names() -> set[str]:
    """The names of every sample the app's metrics write (a family's name with its type's suffixes)."""
    metrics = [m for m in vars(observability).values() if isinstance(m, MetricWrapperBase)]
    families = [metric.describe()[0] for metric in metrics]
    return {f.name + suffix for f in families for suffix in SUFFIXES[f.type]}


def metric_names(expr: str) -> set[str]:
    """The bgremover metrics a PromQL expression reads."""
    return set(re.findall(r"\b(bgremover_\w+)\{", expr))


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = require_binary("promtool")
    return subprocess.run([binary, *args], cwd=rules.HERE, capture_output=True, text=True, timeout=120, check=False)


def test_the_committed_files_are_the_generated_ones():
    for path, text in rules.generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run `python -m deploy.prometheus.rules`"


def test_the_rules_file_and_the_prometheusrule_hold_the_same_groups():
    plain = yaml.safe_load(rules.RULES_FILE.read_text())
    operator = yaml.safe_load(rules.OPERATOR_FILE.read_text())
    assert operator["kind"] == "PrometheusRule" and operator["apiVersion"] == "monitoring.coreos.com/v1"
    assert operator["spec"]["groups"] == plain["groups"]
    names = [r["alert"] for g in plain["groups"] for r in g["rules"]]
    assert names == [a.name for a in rules.ALERTS] and len(set(names)) == len(names)


def test_the_kustomization_builds_the_prometheusrule():
    kubectl = shutil.which("kubectl")
    if kubectl is None:  # not a Debian package, so not in CI either (as in test_kubernetes.py)
        pytest.skip("kubectl is not installed: the kustomize build is not checked")
    built = subprocess.run([kubectl, "kustomize", str(rules.HERE)], capture_output=True, text=True, check=True)
    assert yaml.safe_load(built.stdout) == yaml.safe_load(rules.OPERATOR_FILE.read_text())


def test_promtool_checks_the_rules():
    checked = promtool("check", "rules", rules.RULES_FILE.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules.ALERTS)} rules found" in checked.stdout


def test_promtool_unit_tests_pass():
    tested = promtool("test", "rules", rules.TESTS_FILE.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(tmp_path):
    """The unit tests can fail: a quiet case turned into a firing one is reported."""
    document = cases.tests_document()
    quiet = next(t for t in document["tests"] if not t["alert_rule_test"][0]["exp_alerts"])
    quiet["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": {"severity": "critical"}}]
    document["rule_files"] = [str(rules.RULES_FILE)]
    (tmp_path / "wrong.yml").write_text(yaml.safe_dump(document))
    tested = promtool("test", "rules", str(tmp_path / "wrong.yml"))
    assert tested.returncode != 0 and "FAILED" in tested.stdout + tested.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    for alert in rules.ALERTS:
        mine = [c for c in cases.CASES if c.alert == alert.name]
        assert any(c.labels is not None for c in mine), f"{alert.name}: no case fires it"
        assert any(c.labels is None for c in mine), f"{alert.name}: no case keeps it quiet"
    assert {c.alert for c in cases.CASES} <= {a.name for a in rules.ALERTS}


def test_each_alert_has_its_annotations_and_a_runbook_section():
    guide = (ROOT / "docs" / "operations.md").read_text()
    watching = guide.split("## Watching it", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^#### (\S+)$", watching, re.M)
    assert headings == [a.name for a in rules.ALERTS]  # one section per alert, in the table's order
    for alert in rules.ALERTS:
        annotations = alert.annotations()
        assert annotations["summary"] and annotations["description"]
        path, anchor = annotations["runbook_url"].split("#")
        assert (ROOT / path).is_file() and anchor == alert.name.lower()  # GitHub's anchor of "#### Name"
        assert alert.severity in ("critical", "warning")


def test_each_runbook_states_its_alerts_bound_as_the_table_does():
    guide = (ROOT / "docs" / "operations.md").read_text()
    sections = dict(re.findall(r"^#### (\S+)\n\n(.*?)(?=\n#### |\n## )", guide, re.M | re.S))
    bounds = {
        "BgremoverHighErrorRate": f"{rules.ERROR_RATIO:.0%}",
        "BgremoverSlowCutouts": f"{rules.LATENCY_P95_S} s",
        "BgremoverRateLimitSurge": f"{rules.RATE_LIMITED_RATIO:.0%} of requests, and more than "
        f"{rules.RATE_LIMITED_PER_S * 60:g} a minute",
        "BgremoverWorkerMemoryHigh": f"{rules.WORKER_RSS_BYTES // 2**20} MiB",
        "BgremoverUnsureCutouts": f"{rules.UNSURE_RATIO:.0%} of cut-outs had a certainty at or below "
        f"`UNSURE_CERTAINTY` ({rules.UNSURE_CERTAINTY}), with more than {rules.UNSURE_PER_S * 3600:g} cut-outs an hour",
    }
    for name, bound in bounds.items():
        assert bound in " ".join(sections[name].split()), name


def test_the_processing_endpoints_are_routes_of_the_app(app):
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert set(rules.PROCESSING_ENDPOINTS) <= routes
    assert "/remove-background-batch" in routes and "/remove-background-batch" not in rules.PROCESSING_ENDPOINTS


def test_the_memory_bound_lies_between_the_measured_peak_and_a_workers_share_of_the_limit():
    workers = int(manifest_env()["WEB_CONCURRENCY"])
    share = (mib(app_container()["resources"]["limits"]["memory"]) - MASTER_MIB) / workers
    assert WORKER_PEAK_MIB < rules.WORKER_RSS_BYTES / 2**20 < share


@pytest.mark.parametrize("alert", rules.ALERTS, ids=lambda a: a.name)
def test_each_alert_selects_the_scrape_job_and_reads_metrics_the_app_writes(alert):
    assert f'job="{rules.JOB}"' in alert.expr
    assert metric_names(alert.expr) <= exported_names()


def test_the_app_writes_the_metrics_the_rules_read():
    """A fast guard beside the real Prometheus test: renaming a metric in the code fails here too."""
    assert len(exported_names()) > 10
    read = set().union(*(metric_names(a.expr) for a in rules.ALERTS))
    assert "bgremover_cutout_certainty_bucket" in read and read <= exported_names()
