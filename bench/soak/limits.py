"""The rate-limit checks: a client on its own loopback address uses up its hourly limit before Redis restarts,
and after it sees its requests count in Redis again."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import redis
import requests

LIMITED_CLIENT = "127.0.0.2"  # the rate-limit probe: its own address, so its own hourly counts
PROBE_LIMIT = 30  # /read-file per hour for the probe; the soak's endpoints get a limit never reached
LIMITER_RECOVERY_S = 120  # Flask-Limiter retries a dead store after 1, 2, 4 … 32 s


@dataclass
class LimitCheck:
    """The limited client's view of its hourly limit, before and after Redis restarts."""

    before_remaining: list[int] = field(default_factory=list)
    before_429: int = 0
    redis_down_at: float = 0.0
    redis_up_at: float = 0.0
    during_outage: Counter[int] = field(default_factory=Counter)
    counting_again_at: float | None = None
    after_remaining: list[int] = field(default_factory=list)
    after_redis_counts: list[int] = field(default_factory=list)
    after_429: int = 0
    problems: list[str] = field(default_factory=list)


class LimitProbe:
    """The limited client: its requests to /read-file through nginx, and its counter in Redis read directly."""

    def __init__(
        self, session: requests.Session, nginx_url: str, redis_url: str, check: LimitCheck, clock: Callable[[], float]
    ) -> None:
        self.session, self.nginx_url, self.redis_url, self.check, self.clock = (
            session,
            nginx_url,
            redis_url,
            check,
            clock,
        )

    def probe(self) -> requests.Response:
        """One request of the limited client."""
        return self.session.post(f"{self.nginx_url}/read-file", json={"path": "probe.jpg"}, timeout=60, verify=False)

    def redis_count(self) -> int:
        """What the limiter has counted for the limited client in Redis (0 when it has nothing)."""
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        total = 0
        for key in cast(list[bytes], client.keys(f"*{LIMITED_CLIENT}*")):
            if client.type(key) == b"string":
                total += int(cast(bytes, client.get(key)) or 0)
            else:  # a moving window keeps a list
                total += cast(int, client.llen(key))
        return total

    def before(self) -> None:
        """Use up the limited client's hour: Remaining falls by one per request, then 429."""
        for _ in range(PROBE_LIMIT + 5):
            r = self.probe()
            if r.status_code == 200:
                self.check.before_remaining.append(int(r.headers["X-RateLimit-Remaining"]))
            elif r.status_code == 429 and r.json().get("code") == "rate_limited" and "Retry-After" in r.headers:
                self.check.before_429 += 1
            else:
                self.check.problems.append(f"before the restart: {r.status_code} {r.text[:200]}")
            time.sleep(0.2)
        expected = list(range(PROBE_LIMIT - 1, -1, -1))
        if self.check.before_remaining != expected or self.check.before_429 != 5:
            self.check.problems.append(
                f"before the restart: remaining {self.check.before_remaining}, {self.check.before_429} × 429"
            )

    def after(self) -> None:
        """Once Redis is back, each request counts there again: Redis's count and Remaining move by one, then 429."""
        deadline = time.monotonic() + LIMITER_RECOVERY_S
        streak: list[tuple[int, int]] = []
        while time.monotonic() < deadline and len(streak) < 3:
            before = self.redis_count()
            r = self.probe()
            after = self.redis_count()
            if (
                r.status_code == 200
                and after == before + 1
                and (not streak or int(r.headers["X-RateLimit-Remaining"]) == streak[-1][0] - 1)
            ):
                streak.append((int(r.headers["X-RateLimit-Remaining"]), after))
            else:
                streak = []
            time.sleep(0.5)
        if len(streak) < 3:
            self.check.problems.append(f"limits did not count in Redis again within {LIMITER_RECOVERY_S} s")
            return
        self.check.counting_again_at = self.clock()
        self.check.after_remaining = [remaining for remaining, _ in streak]
        self.check.after_redis_counts = [count for _, count in streak]
        for _ in range(PROBE_LIMIT + 2):
            r = self.probe()
            if r.status_code == 429:
                self.check.after_429 += 1
                return
            self.check.after_remaining.append(int(r.headers["X-RateLimit-Remaining"]))
            self.check.after_redis_counts.append(self.redis_count())
            time.sleep(0.2)
        self.check.problems.append("after the restart: the limit never refused")
