"""The Grafana dashboard, declared once: its panels and their queries are this table, and
`python -m deploy.grafana.panels` writes deploy/grafana/bgremover.json from it (import it as it is).

Queries select the alert rules' scrape job and the dashboard's `instance` variable; the alert bounds are drawn as
thresholds from the rules' table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from deploy.prometheus import rules

HERE = Path(__file__).resolve().parent
DASHBOARD_FILE = HERE / "bgremover.json"
UID = "bgremover"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WINDOW = "$__rate_interval"  # Grafana's: at least four scrape intervals
NODE = f'{rules.SELECTOR},instance=~"$instance"'
TRAFFIC = f'{NODE},endpoint!~"/health.*|/metrics"'
PROCESSING = f'{NODE},endpoint=~"{"|".join(rules.PROCESSING_ENDPOINTS)}"'
UNSURE = f'{NODE},le="{rules.UNSURE_BUCKET}"'
IMAGES = f"sum(rate(bgremover_model_inference_seconds_count{{{NODE}}}[{WINDOW}]))"  # one observation per image


def rate(metric: str, labels: str = NODE, by: str = "") -> str:
    return rules.rate_sum(metric, labels, WINDOW, by)


def quantile(q: float, histogram: str, labels: str, by: str = "") -> str:
    return f"histogram_quantile({q}, {rate(histogram + '_bucket', labels, ', '.join(filter(None, (by, 'le'))))})"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    """One panel: what it shows, in which unit, and the alert bound drawn on it (if any)."""

    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    threshold: float | None = None
    kind: str = "timeseries"
    width: int = 12


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


ROWS: tuple[Row, ...] = (
    Row(
        "Traffic and errors",
        (
            Panel(
                "Nodes scraped",
                "Targets of the job that answer the scrape, of all found (BgremoverTargetDown, BgremoverAbsent).",
                "short",
                (Query(f"sum(up{{{NODE}}})", "up"), Query(f"count(up{{{NODE}}})", "found")),
                kind="stat",
                width=6,
            ),
            Panel(
                "Share of requests answered 5xx",
                "5xx of all requests but probes and scrapes; the line is BgremoverHighErrorRate's bound.",
                "percentunit",
                (
                    Query(
                        f'(sum(rate(bgremover_requests_total{{{TRAFFIC},status=~"5.."}}[{WINDOW}])) or vector(0))'
                        f" / {rate('bgremover_requests_total', TRAFFIC)}",
                        "5xx",
                    ),
                ),
                threshold=rules.ERROR_RATIO,
                width=6,
            ),
            Panel(
                "Requests by endpoint and status",
                "Requests a second, by route and HTTP status.",
                "reqps",
                (Query(rate("bgremover_requests_total", by="endpoint, status"), "{{endpoint}} {{status}}"),),
            ),
            Panel(
                "Refused requests by endpoint and status",
                "4xx and 5xx answers a second: bad input (400, 413, 415, 422), keys (401, 403), limits (429).",
                "reqps",
                (
                    Query(
                        rate("bgremover_requests_total", f'{NODE},status=~"4..|5.."', "endpoint, status"),
                        "{{endpoint}} {{status}}",
                    ),
                ),
            ),
            Panel(
                "Rate-limit refusals by endpoint",
                "Requests refused by an hourly limit (429) a second (BgremoverRateLimitSurge).",
                "reqps",
                (Query(rate("bgremover_rate_limited_total", by="endpoint"), "{{endpoint}}"),),
            ),
        ),
    ),
    Row(
        "Latency",
        (
            Panel(
                "Single-image request latency",
                "Percentiles of the single-image endpoints' time; the line is BgremoverSlowCutouts' bound on p95.",
                "s",
                tuple(
                    Query(quantile(q, "bgremover_request_duration_seconds", PROCESSING), f"p{round(q * 100)}")
                    for q in (0.5, 0.95, 0.99)
                ),
                threshold=rules.LATENCY_P95_S,
            ),
            Panel(
                "p95 latency by endpoint",
                "95th percentile of each route's time, probes and scrapes aside (a batch's is all its files).",
                "s",
                (Query(quantile(0.95, "bgremover_request_duration_seconds", TRAFFIC, "endpoint"), "{{endpoint}}"),),
            ),
        ),
    ),
    Row(
        "Processing",
        (
            Panel(
                "Mean time per stage",
                "Seconds each processing stage takes per image (docs/pipeline.md names them).",
                "s",
                (
                    Query(
                        f"{rate('bgremover_stage_seconds_sum', by='stage')}"
                        f" / {rate('bgremover_stage_seconds_count', by='stage')}",
                        "{{stage}}",
                    ),
                ),
            ),
            Panel(
                "Inference p95 by requested model",
                "95th percentile of the segment stage's time, by the model a request asked for.",
                "s",
                (Query(quantile(0.95, "bgremover_model_inference_seconds", NODE, "model"), "{{model}}"),),
            ),
            Panel(
                "Model passes per image",
                "Passes of each model per processed image: one where the first mask is sure, more where the "
                "cascade or refine=high asks.",
                "short",
                (
                    Query(
                        f"{rate('bgremover_model_passes_total', by='model')} / ignoring(model) group_left {IMAGES}",
                        "{{model}}",
                    ),
                    Query(f"{rate('bgremover_model_passes_total')} / {IMAGES}", "all models"),
                ),
            ),
            Panel(
                "Cascade rate and images",
                "Share of images a second model re-decided, and images processed a second.",
                "percentunit",
                (
                    Query(f"{rate('bgremover_cascaded_images_total')} / {IMAGES}", "cascade rate"),
                    Query(IMAGES, "images/s"),
                ),
            ),
        ),
    ),
    Row(
        "Certainty",
        (
            Panel(
                "Share of unsure cut-outs by endpoint",
                f"Cut-outs with a certainty at or below {rules.UNSURE_CERTAINTY} (worth a person's look); the line "
                "is BgremoverUnsureCutouts' bound.",
                "percentunit",
                (
                    Query(
                        f"{rate('bgremover_cutout_certainty_bucket', UNSURE, 'endpoint')}"
                        f" / {rate('bgremover_cutout_certainty_count', by='endpoint')}",
                        "{{endpoint}}",
                    ),
                ),
                threshold=rules.UNSURE_RATIO,
            ),
            Panel(
                "Certainty percentiles",
                "Median certainty and the least sure tenth's bound, over all endpoints (0 to 1).",
                "short",
                tuple(Query(quantile(q, "bgremover_cutout_certainty", NODE), f"p{round(q * 100)}") for q in (0.5, 0.1)),
            ),
        ),
    ),
    Row(
        "Resources",
        (
            Panel(
                "Worker peak memory by node",
                "The largest peak resident memory of a node's workers; the line is BgremoverWorkerMemoryHigh's bound.",
                "bytes",
                (Query(f"max by (instance) (bgremover_worker_peak_rss_bytes{{{NODE}}})", "{{instance}}"),),
                threshold=rules.WORKER_RSS_BYTES,
            ),
            Panel(
                "Bytes in and out by endpoint",
                "Request and response body bytes a second (a batch's streamed ZIP is not counted out).",
                "Bps",
                (
                    Query(rate("bgremover_bytes_in_total", by="endpoint"), "in {{endpoint}}"),
                    Query(rate("bgremover_bytes_out_total", by="endpoint"), "out {{endpoint}}"),
                ),
            ),
        ),
    ),
)


def queries() -> list[str]:
    """Every panel's query, in the dashboard's order."""
    return [q.expr for row in ROWS for panel in row.panels for q in panel.queries]


def _panel(panel: Panel, ident: int, x: int, y: int) -> dict[str, object]:
    steps: list[dict[str, object]] = [{"color": "green", "value": None}]
    if panel.threshold is not None:
        steps.append({"color": "red", "value": panel.threshold})
    defaults: dict[str, object] = {"unit": panel.unit, "min": 0, "thresholds": {"mode": "absolute", "steps": steps}}
    options: dict[str, object] = {"tooltip": {"mode": "multi", "sort": "desc"}}
    if panel.kind == "timeseries":
        shown = "line" if panel.threshold is not None else "off"
        defaults["custom"] = {"thresholdsStyle": {"mode": shown}, "fillOpacity": 10, "showPoints": "never"}
        options["legend"] = {"displayMode": "list", "placement": "bottom", "showLegend": True}
    else:
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"}
    return {
        "id": ident,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": q.expr, "legendFormat": q.legend}
            for i, q in enumerate(panel.queries)
        ],
    }


def _panels() -> list[dict[str, object]]:
    """Rows and their panels laid out left to right, 24 columns wide."""
    laid: list[dict[str, object]] = []
    y = 0
    for row in ROWS:
        laid.append(
            {
                "id": len(laid) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y, x = y + 1, 0
        for panel in row.panels:
            if x + panel.width > 24:
                y, x = y + 8, 0
            laid.append(_panel(panel, len(laid) + 1, x, y))
            x += panel.width
        y += 8
    return laid


def _variables() -> list[dict[str, object]]:
    instances = f"label_values(up{{{rules.SELECTOR}}}, instance)"
    return [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus", "current": {}},
        {
            "name": "instance",
            "label": "Node",
            "type": "query",
            "datasource": DATASOURCE,
            "definition": instances,
            "query": {"query": instances, "refId": "instances"},
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"text": "All", "value": "$__all"},
            "sort": 1,
        },
    ]


def dashboard() -> dict[str, object]:
    """The dashboard as Grafana imports it."""
    return {
        "uid": UID,
        "title": "bgremover",
        "description": "Traffic, errors, latency, processing, certainty and memory of bgremover (docs/operations.md)",
        "tags": ["bgremover"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": _variables()},
        "panels": _panels(),
    }


def text() -> str:
    """The dashboard file's text."""
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DASHBOARD_FILE.write_text(text())
    print(f"wrote {DASHBOARD_FILE}")


if __name__ == "__main__":
    main()
