"""promtool's unit tests of the alert rules: for each alert, series that must fire it and series that must not.

The expected annotations come from the rules table (deploy/prometheus/rules.py), so they are written once.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy.prometheus.rules import ALERTS, JOB, RULES_FILE, UNSURE_BUCKET, Alert

NODE = f'job="{JOB}",instance="10.0.0.1:5001"'
CUT = f'{NODE},endpoint="/remove-background"'
MIB = 2**20


def answered(status: int, per_minute: float, endpoint: str = "/remove-background", method: str = "POST") -> tuple:
    """Requests a minute answered with this status."""
    series = f'bgremover_requests_total{{{NODE},endpoint="{endpoint}",method="{method}",status="{status}"}}'
    return series, f"0+{per_minute:g}x120"


def latency(endpoint: str, per_bucket: dict[str, float]) -> list[tuple]:
    """A latency histogram whose buckets grow by these counts a minute."""
    labels = f'{NODE},endpoint="{endpoint}",status="200"'
    return [
        (f'bgremover_request_duration_seconds_bucket{{{labels},le="{le}"}}', f"0+{n:g}x60")
        for le, n in per_bucket.items()
    ]


def certainty(unsure_per_minute: float, all_per_minute: float) -> list[tuple]:
    """Cut-outs a minute at or below the unsure bound, and in all."""
    return [
        (f'bgremover_cutout_certainty_bucket{{{CUT},le="{UNSURE_BUCKET}"}}', f"0+{unsure_per_minute:g}x120"),
        (f'bgremover_cutout_certainty_bucket{{{CUT},le="+Inf"}}', f"0+{all_per_minute:g}x120"),
        (f"bgremover_cutout_certainty_count{{{CUT}}}", f"0+{all_per_minute:g}x120"),
    ]


def refused(per_minute: float) -> tuple:
    """Requests a minute refused by a rate limit."""
    return f"bgremover_rate_limited_total{{{CUT}}}", f"0+{per_minute:g}x120"


@dataclass(frozen=True)
class Case:
    """Series, a time, and whether the alert is firing then (with the labels it carries)."""

    alert: str
    what: str
    series: list[tuple]
    at: str
    labels: dict[str, str] | None  # None: the alert must not fire

    def test(self, alert: Alert) -> dict[str, object]:
        expected = (
            []
            if self.labels is None
            else [{"exp_labels": {"severity": alert.severity, **self.labels}, "exp_annotations": alert.annotations()}]
        )
        return {
            "name": f"{self.alert}: {self.what}",
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in self.series],
            "alert_rule_test": [{"eval_time": self.at, "alertname": self.alert, "exp_alerts": expected}],
        }


ON_NODE = {"job": JOB, "instance": "10.0.0.1:5001"}
ON_JOB = {"job": JOB}

CASES: tuple[Case, ...] = (
    Case(
        "BgremoverTargetDown",
        "fires when scrapes fail for 2 minutes",
        [(f"up{{{NODE}}}", "1 1 0 0 0 0 0")],
        "5m",
        ON_NODE,
    ),
    Case("BgremoverTargetDown", "quiet while the scrapes answer", [(f"up{{{NODE}}}", "1x10")], "5m", None),
    Case(
        "BgremoverTargetDown",
        "quiet for a failure shorter than 2 minutes",
        [(f"up{{{NODE}}}", "1 1 1 1 0 1")],
        "5m",
        None,
    ),
    Case(
        "BgremoverAbsent",
        "fires when only other jobs are scraped",
        [('up{job="other",instance="x:9100"}', "1x10")],
        "6m",
        ON_JOB,
    ),
    Case("BgremoverAbsent", "quiet while a node is scraped", [(f"up{{{NODE}}}", "1x10")], "6m", None),
    Case(
        "BgremoverNotReady",
        "fires when /health/ready answers 503",
        [answered(503, 1, "/health/ready", "GET")],
        "5m",
        ON_NODE,
    ),
    Case(
        "BgremoverNotReady",
        "quiet while /health/ready answers 200",
        [answered(200, 1, "/health/ready", "GET")],
        "5m",
        None,
    ),
    Case("BgremoverHighErrorRate", "fires at 10% 500s", [answered(200, 90), answered(500, 10)], "15m", ON_JOB),
    Case("BgremoverHighErrorRate", "quiet at 1% 500s", [answered(200, 99), answered(500, 1)], "15m", None),
    Case(
        "BgremoverHighErrorRate",
        "quiet when only the probes fail",
        [answered(200, 10), answered(503, 10, "/health/ready", "GET")],
        "15m",
        None,
    ),
    Case(
        "BgremoverSlowCutouts",
        "fires when one request in ten takes over 8 s",
        latency("/remove-background", {"4": 80, "8": 90, "16": 100, "+Inf": 100}),
        "20m",
        ON_JOB,
    ),
    Case(
        "BgremoverSlowCutouts",
        "quiet when 96% take at most 4 s",
        latency("/remove-background", {"4": 96, "8": 100, "16": 100, "+Inf": 100}),
        "20m",
        None,
    ),
    Case(
        "BgremoverSlowCutouts",
        "quiet when only batches are slow",
        latency("/remove-background-batch", {"4": 0, "8": 0, "16": 0, "32": 100, "+Inf": 100}),
        "20m",
        None,
    ),
    Case(
        "BgremoverRateLimitSurge",
        "fires at 40% refused, 40 a minute",
        [answered(200, 60), answered(429, 40), refused(40)],
        "25m",
        ON_JOB,
    ),
    Case(
        "BgremoverRateLimitSurge",
        "quiet at 20% refused",
        [answered(200, 80), answered(429, 20), refused(20)],
        "25m",
        None,
    ),
    Case(
        "BgremoverRateLimitSurge",
        "quiet at one refusal a minute, whatever the share",
        [answered(429, 1), refused(1)],
        "25m",
        None,
    ),
    Case(
        "BgremoverWorkerMemoryHigh",
        "fires at 1200 MiB",
        [(f"bgremover_worker_peak_rss_bytes{{{NODE}}}", f"{700 * MIB} {1200 * MIB}x10")],
        "5m",
        ON_NODE,
    ),
    Case(
        "BgremoverWorkerMemoryHigh",
        "quiet at the measured 914 MiB",
        [(f"bgremover_worker_peak_rss_bytes{{{NODE}}}", f"{914 * MIB}x10")],
        "5m",
        None,
    ),
    Case("BgremoverUnsureCutouts", "fires at 60% unsure", certainty(6, 10), "70m", ON_JOB),
    Case("BgremoverUnsureCutouts", "quiet at 20% unsure", certainty(2, 10), "70m", None),
    Case("BgremoverUnsureCutouts", "quiet at 30 cut-outs an hour, all unsure", certainty(0.5, 0.5), "70m", None),
)


def tests_document() -> dict[str, object]:
    """promtool's test file: one test group per case."""
    alerts = {alert.name: alert for alert in ALERTS}
    return {
        "rule_files": [RULES_FILE.name],
        "evaluation_interval": "1m",
        "tests": [case.test(alerts[case.alert]) for case in CASES],
    }
