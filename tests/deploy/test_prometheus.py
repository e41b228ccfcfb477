"""A real Prometheus scrapes a real gunicorn serving the app: every dashboard query and alert expression is asked of
it, and the alert rules load healthy. A metric renamed in the code leaves a dashboard query without data here."""

from __future__ import annotations

import base64
import re
import signal
import subprocess

import pytest
import requests
import yaml
from PIL import Image

from deploy.grafana import panels
from deploy.prometheus import rules
from tests.conftest import DATA, encode_image
from tests.services import AppServer, free_port, require_binary, wait_for

pytestmark = pytest.mark.slow
WINDOW = "1m"  # what the queries' $__rate_interval becomes: a minute holds dozens of 1 s scrapes
SCRAPE_INTERVAL_S = 1


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping `targets` as the rules' job, with the rules loaded."""

    def __init__(self, workdir, targets: list[str]) -> None:
        self.binary = require_binary("prometheus")
        self.port = free_port()
        self.workdir = workdir
        config = {
            "global": {
                "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
                "scrape_timeout": f"{SCRAPE_INTERVAL_S}s",
                "evaluation_interval": f"{SCRAPE_INTERVAL_S}s",
            },
            "rule_files": [str(rules.RULES_FILE)],
            "scrape_configs": [{"job_name": rules.JOB, "static_configs": [{"targets": targets}]}],
        }
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(lambda: requests.get(f"{self.url}/-/ready", timeout=2).ok, 60, "prometheus")
        except TimeoutError:
            self.stop()
            raise
        return self

    def api(self, path: str, **params: str) -> dict:
        answer = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean shutdown: the TSDB head is closed
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def photo(path) -> bytes:
    return encode_image(Image.open(path).convert("RGB").resize((480, 360)), "JPEG")


def send_traffic(url: str) -> None:
    """Good cut-outs on each kind of endpoint (one photo u2netp doubts, so the cascade runs), bad requests, refusals."""
    sure = photo(DATA / "rembg-fixtures" / "fixtures" / "car-1.jpg")
    doubted = photo(DATA / "alphamatting-train-lowres" / "images" / "GT27.png")
    post = lambda path, **kw: requests.post(f"{url}{path}", timeout=120, **kw)  # noqa: E731
    assert post("/remove-background", files={"file": ("a.jpg", sure)}).status_code == 200
    assert post("/remove-background", files={"file": ("b.jpg", doubted)}).status_code == 200
    assert post("/remove-background-preview", files={"file": ("c.jpg", sure)}).status_code == 200
    encoded = base64.b64encode(doubted).decode("ascii")
    assert post("/remove-background-base64", json={"image": encoded}).status_code == 200
    assert post("/api/remove", files={"file": ("d.jpg", sure)}).status_code == 200
    assert post("/remove-background", files={"file": ("e.jpg", b"not an image")}).status_code in (415, 422)
    assert post("/remove-background", data={"nothing": "here"}).status_code == 400
    assert post("/remove-background-preview", files={"file": ("f.jpg", sure)}).status_code == 429  # 1 an hour
    assert requests.get(f"{url}/health", timeout=10).ok


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, data_dir):
    workdir = tmp_path_factory.mktemp("prometheus")
    node = AppServer({"RATE_LIMIT_PREVIEW_PER_HOUR": "1", "METRICS_ALLOWED_IPS": "127.0.0.1"}, workdir)
    node.start(timeout=180)
    server = Prometheus(workdir, [f"127.0.0.1:{node.port}"])
    try:
        server.start()
        scraped = f"up{{{rules.SELECTOR}}} == 1"
        wait_for(lambda: server.query(scraped), 60, "the first scrape")
        send_traffic(node.url)
        scrapes = f"count_over_time(up{{{rules.SELECTOR}}}[1h])"
        before = float(server.query(scrapes)[0]["value"][1])
        wait_for(lambda: float(server.query(scrapes)[0]["value"][1]) >= before + 3, 60, "three scrapes after traffic")
        yield server
    finally:
        server.stop()
        node.stop()


def grafana_to_promql(expr: str) -> str:
    """A dashboard query as Grafana sends it with every node chosen."""
    return expr.replace("$__rate_interval", WINDOW).replace("$instance", ".*")


def test_the_rules_file_loads_healthy(prometheus):
    def evaluated() -> list[dict]:
        found = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        return found if found and all(r["health"] == "ok" for r in found) else []

    wait_for(evaluated, 30, "every rule evaluated")
    loaded = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert [r["name"] for r in loaded] == [a.name for a in rules.ALERTS]
    assert all(r["type"] == "alerting" and not r.get("lastError") for r in loaded)


DASHBOARD_QUERIES = [
    pytest.param(q.expr, id=f"{panel.title}: {q.legend}")
    for row in panels.ROWS
    for panel in row.panels
    for q in panel.queries
]


@pytest.mark.parametrize("expr", DASHBOARD_QUERIES)
def test_each_dashboard_query_returns_data(prometheus, expr):
    result = prometheus.query(grafana_to_promql(expr))
    assert result, f"no data: {expr}"


def test_the_dashboards_node_variable_lists_the_node(prometheus):
    values = prometheus.api("label/instance/values", **{"match[]": f"up{{{rules.SELECTOR}}}"})
    assert len(values) == 1 and values[0].startswith("127.0.0.1:")
    assert (
        panels.dashboard()["templating"]["list"][1]["definition"] == f"label_values(up{{{rules.SELECTOR}}}, instance)"
    )


@pytest.mark.parametrize("alert", rules.ALERTS, ids=lambda a: a.name)
def test_each_alert_expression_parses_and_evaluates(prometheus, alert):
    prometheus.query(alert.expr)  # status success: it parses and runs


@pytest.mark.parametrize("alert", rules.ALERTS, ids=lambda a: a.name)
def test_each_alert_reads_series_the_scrape_has(prometheus, alert):
    """Each selector of the expression matches scraped series (job, name, endpoint and bucket labels included), its
    status matcher aside: no request here failed with 5xx."""
    for selector in re.findall(r"\b((?:bgremover_\w+|up)\{[^}]*\})", alert.expr):
        assert prometheus.query(re.sub(r',status=~?"[^"]*"', "", selector)), selector


def test_a_healthy_node_is_not_down_absent_not_ready_or_failing(prometheus):
    quiet = {"BgremoverTargetDown", "BgremoverAbsent", "BgremoverNotReady", "BgremoverHighErrorRate"}
    for alert in rules.ALERTS:
        if alert.name in quiet:
            assert prometheus.query(alert.expr) == [], alert.name


def test_prometheus_stops_cleanly(tmp_path):
    server = Prometheus(tmp_path, ["127.0.0.1:9"]).start()
    server.stop()
    assert server.proc.returncode == 0, server.log.read_text()
