"""The soak's judgement and report: which 5xx a kill explains, what nginx's logs say, and the Markdown and JSON."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.soak.faults import Kill
from bench.soak.limits import LIMITED_CLIENT, PROBE_LIMIT, LimitCheck
from bench.soak.processes import WARM_UP, ProcessFigures
from bench.soak.traffic import BATCH, CASES, CLIENT_TIMEOUT_S, GRACE_S, Outcome


@dataclass
class Observed:
    """Everything a run saw, as the report reads it."""

    concurrency: int
    workers: int
    layout: dict[str, Any]
    outcomes: list[Outcome]
    kills: list[Kill]
    limits: LimitCheck
    processes: list[ProcessFigures]
    elapsed: float
    hung: int  # threads still running after the grace
    conductor_failure: str  # the exception that stopped the faults, "" when they ran through
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    app_log: Path
    nginx_error_log: Path
    nginx_access_log: Path


def attribute(
    outcomes: list[Outcome], kills: list[Kill], finished: set[str]
) -> tuple[list[tuple[Outcome, Kill]], list[Outcome]]:
    """Each 5xx or broken answer: explained by a kill, or not.

    A request in flight on a killed worker ends one of two ways: nginx's own 502 (the worker died before
    it answered), or, for the batch endpoint, whose ZIP is streamed after its 200 is sent, a body cut off.
    Either is explained only when the kill falls inside the request's time, and at most as many as the
    killed worker held connections at the kill (`held_connections`). A 502 must also be missing from
    the app's log (`finished`: the request ids it logged), except a batch's: its line is written when the
    streamed response starts, before the ZIP's first byte is made, so a worker killed mid-batch has logged
    it and nginx, with no byte yet, still answers 502.
    """
    budget = {id(k): len(k.held) for k in kills}
    explained, unexplained = [], []
    for o in sorted((o for o in outcomes if o.status >= 500 or o.failure), key=lambda o: o.started):
        # remove.bg's error shape has no request id, so for its 502s the app's log cannot be asked
        unlogged = o.request_id not in finished or o.endpoint == BATCH
        died_unanswered = o.status == 502 and o.code == "bad_gateway" and unlogged
        died_streaming = o.endpoint == BATCH and o.status == 200 and o.failure.startswith("cut off")
        kill = next((k for k in kills if o.started <= k.done and k.at <= o.ended and budget[id(k)] > 0), None)
        if kill is not None and (died_unanswered or died_streaming):
            budget[id(kill)] -= 1
            explained.append((o, kill))
        else:
            unexplained.append(o)
    return explained, unexplained


def app_request_ids(app_log: Path) -> set[str]:
    """The request ids of the app's JSON log lines."""
    ids = set()
    for line in app_log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            ids.add(json.loads(line).get("request_id") or "")
    return ids - {""}  # lines about no request (the limiter's warnings) have none


def nginx_saw(error_log: Path, access_log: Path, app_ids: set[str]) -> tuple[int, list[str], int, Counter[int]]:
    """nginx's view: upstream connections its error log says broke, the request ids of the 502s in its
    access log, how many of those the app logged, and the statuses of the requests nginx sent again
    after a first try failed (its access log lists two upstream attempts)."""
    log = error_log.read_text()
    broken = sum(log.count(s) for s in ("upstream prematurely closed", "Connection reset by peer"))
    bad_gateway, retried = [], Counter[int]()
    for line in access_log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry["status"] == 502:
                bad_gateway.append(entry["request_id"])
            if "," in entry["upstream"]:
                retried[entry["status"]] += 1
    return broken, bad_gateway, len(set(bad_gateway) & app_ids), retried


def build(seen: Observed) -> dict[str, Any]:
    """The Markdown report (`text`), the failures that fail the run, and every figure for the JSON."""
    app_ids = app_request_ids(seen.app_log)
    explained, unexplained = attribute(seen.outcomes, seen.kills, app_ids)
    timeouts = [o for o in seen.outcomes if "Timeout" in o.failure]
    unexpected = [o for o in seen.outcomes if not o.expected and o.status < 500 and not o.failure]
    failures = []
    if unexplained:
        failures.append(
            f"{len(unexplained)} 5xx or broken answers not explained by a killed worker "
            f"({Counter(o.failure or str(o.status) for o in unexplained)})"
        )
    if timeouts:
        failures.append(f"{len(timeouts)} requests unanswered after {CLIENT_TIMEOUT_S} s: a hang")
    if unexpected:
        failures.append(f"{len(unexpected)} answers outside their case's statuses")
    if seen.hung:
        failures.append(f"{seen.hung} threads still running {GRACE_S} s after the end: a hang")
    if seen.conductor_failure:
        failures.append(f"the faults did not run through: {seen.conductor_failure}")
    if len(seen.kills) != 2:
        failures.append(f"{len(seen.kills)} workers killed, not 2")
    failures += seen.limits.problems

    lines = [
        f"## Soak: {seen.elapsed:.0f} s, {seen.concurrency} clients, {seen.workers} workers × "
        f"{seen.layout['threads']} threads",
        "",
        f"Models {', '.join(seen.layout['models'])}; inference {json.dumps(seen.layout['inference'])}.",
        "",
        f"Load average (1/5/15 min) at the start {_load(seen.load_start)}, at the end {_load(seen.load_end)}.",
        "",
    ]
    statuses = sorted({o.status for o in seen.outcomes})
    by_endpoint: dict[str, Counter[int]] = {}
    for o in seen.outcomes:
        by_endpoint.setdefault(o.endpoint, Counter())[o.status] += 1
    lines += [
        f"**{len(seen.outcomes)} requests** ({len(seen.outcomes) / seen.elapsed:.1f}/s). Statuses per endpoint "
        "(0: no answer):",
        "",
        "| endpoint | " + " | ".join(str(s) for s in statuses) + " | total |",
        "|---|" + "---:|" * (len(statuses) + 1),
    ]
    for endpoint, counts in sorted(by_endpoint.items()):
        lines.append(
            f"| `{endpoint}` | " + " | ".join(str(counts.get(s, 0)) for s in statuses) + f" | {sum(counts.values())} |"
        )
    total = Counter(o.status for o in seen.outcomes)
    lines.append("| all | " + " | ".join(str(total[s]) for s in statuses) + f" | {len(seen.outcomes)} |")
    good = sum(1 for o in seen.outcomes if o.expected)
    lines += [
        "",
        f"Answers as their case expects (status, and JSON for every error): {good} of {len(seen.outcomes)}.",
        "",
    ]
    if unexpected:
        lines.append("Unexpected: " + ", ".join(f"{o.case} → {o.status}" for o in unexpected[:20]))
    lines += ["", "**Faults and 5xx**", ""]
    for n, k in enumerate(seen.kills, 1):
        caused = [o for o, kill in explained if kill is k]
        lines.append(
            f"- worker kill {n} at {k.at:.0f} s (pid {k.pid}): it held {len(k.held)} connection(s); lost: "
            + (", ".join(_lost(o) for o in caused) or "none")
            + f"; replacement ready after {k.replacement_ready_s or float('nan'):.1f} s"
        )
    lim = seen.limits
    lines.append(
        f"- Redis killed at {lim.redis_down_at:.0f} s, restarted (empty) "
        f"{lim.redis_up_at - lim.redis_down_at:.1f} s later; the limited client's requests during the outage: "
        f"{dict(lim.during_outage)}"
    )
    broken, bad_gateway, answered, retried = nginx_saw(seen.nginx_error_log, seen.nginx_access_log, app_ids)
    lines.append(
        f"- nginx: {broken} upstream connection(s) broken (error log); {len(bad_gateway)} × 502 in the access "
        f"log ({', '.join(i[:8] for i in bad_gateway) or 'none'}), {answered} of them in the app's log; "
        f"requests it sent again after a broken first try, by final status: {dict(retried) or 'none'}"
    )
    lines.append(
        f"- 5xx or broken answers: {sum(1 for o in seen.outcomes if o.status >= 500 or o.failure)}, of which "
        f"explained by a kill {len(explained)}, unexplained {len(unexplained)}"
        + (
            ": " + ", ".join(f"{o.case} {o.status} at {o.started:.0f}-{o.ended:.0f} s" for o in unexplained[:10])
            if unexplained
            else ""
        )
    )
    lines += [
        "",
        f"**Rate limits** (client {LIMITED_CLIENT}, `/read-file`, {PROBE_LIMIT}/hour):",
        "",
        f"- before the restart: X-RateLimit-Remaining {_span(lim.before_remaining)} over "
        f"{len(lim.before_remaining)} requests, then {lim.before_429} × 429",
        f"- after the restart: counting in Redis again "
        f"{(lim.counting_again_at or 0) - lim.redis_up_at:.0f} s after Redis came back; "
        f"Remaining {_span(lim.after_remaining)} while Redis's count went {_span(lim.after_redis_counts)}, "
        f"then {lim.after_429} × 429",
        "",
        "**Processes** (RSS MiB and open fds when first and last seen; workers: start = after warm-up):",
        "",
        "| process | pid | RSS start | RSS end | RSS max | fds start | fds end | seen (s) | fate |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    killed = {k.pid for k in seen.kills}
    for p in sorted(seen.processes, key=lambda p: (p.role, p.first_seen)):
        if p.pid in killed:
            p.fate = "SIGKILLed"
        elif p.role == "redis-server" and p.last_seen < seen.elapsed - 10:
            p.fate = "killed (restart)"
        lines.append(
            f"| {p.role} | {p.pid} | {p.rss_start:.0f} | {p.rss_end:.0f} | {p.rss_max:.0f} | {p.fds_start} | "
            f"{p.fds_end} | {p.first_seen:.0f}–{p.last_seen:.0f} | {p.fate} |"
        )
    lines += memory_lines(seen.processes, seen.elapsed, killed)
    lines += ["", "**Result**: " + ("; ".join(failures) if failures else "pass"), ""]
    return {
        "text": "\n".join(lines),
        "failures": failures,
        "seconds": seen.elapsed,
        "requests": len(seen.outcomes),
        "statuses": {str(s): n for s, n in total.items()},
        "by_endpoint": {e: {str(s): n for s, n in c.items()} for e, c in by_endpoint.items()},
        "by_case": {c.name: dict(Counter(str(o.status) for o in seen.outcomes if o.case == c.name)) for c in CASES},
        "kills": [asdict(k) for k in seen.kills],
        "explained_5xx": [{**asdict(o), "kill_pid": k.pid} for o, k in explained],
        "unexplained_5xx": [asdict(o) for o in unexplained],
        "limits": {**asdict(lim), "during_outage": dict(lim.during_outage)},
        "processes": [{**asdict(p), "rss_slope_mib_per_hour": p.rss_slope()} for p in seen.processes],
        "rss_warm_up": WARM_UP,
        "load": {"start": seen.load_start, "end": seen.load_end},
        "layout": seen.layout,
    }


def memory_lines(processes: list[ProcessFigures], elapsed: float, killed: set[int]) -> list[str]:
    """RSS through the run of the processes that lived through it: five points, the slope after warm-up, the samples."""
    whole = [p for p in processes if p.first_seen < 10 and p.last_seen > elapsed - 10 and p.pid not in killed]
    whole.sort(key=lambda p: p.role)
    lines = [
        "",
        "RSS (MiB) through the run, at 0, 25, 50, 75 and 100 % of it, of the processes that lived through it, and "
        f"its least-squares slope over the samples after the first {WARM_UP:.0%} of the run (MiB per hour: near 0 "
        "once a high-water mark is reached, above it while memory still grows):",
        "",
    ]
    for p in whole:
        points = " → ".join(f"{p.rss_at(f * elapsed):.0f}" for f in (0, 0.25, 0.5, 0.75, 1))
        slope = p.rss_slope()
        after = f"{slope:+.1f} MiB/h after warm-up" if slope is not None else "too few samples for a slope"
        lines.append(f"- {p.role} {p.pid}: {points}; {after}")
    lines += ["", "<details><summary>RSS samples (seconds: MiB)</summary>", ""]
    lines += [f"- {p.role} {p.pid}: " + ", ".join(f"{t:.0f}: {rss:.1f}" for t, rss in p.timeline) for p in whole]
    return [*lines, "", "</details>"]


def _lost(o: Outcome) -> str:
    how = "nginx's 502" if o.status == 502 else f"{o.status}, body {o.failure}"
    return f"{o.case} ({how}, request {o.request_id[:8] or '?'})"


def _load(averages: tuple[float, float, float]) -> str:
    return "/".join(f"{a:.2f}" for a in averages)


def _span(values: list[int]) -> str:
    return f"{values[0]}→{values[-1]}" if values else "(none)"
