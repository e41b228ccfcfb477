"""Soak under faults: mixed traffic through the real nginx → gunicorn → Redis stack on loopback.

    python -m bench.soak [--seconds 600] [--concurrency 8] [--json soak.json]

Every endpoint (native, preview, base64, batch, remove.bg, rembg), good photos and the hostile inputs of
the tests, multipart and JSON, from `--concurrency` clients for `--seconds`. Meanwhile a gunicorn worker
is SIGKILLed twice (each time while it holds a request) and Redis is restarted once. A limited client on
its own loopback address checks that the hourly limits count in Redis before and again after the restart.

Reported: requests and statuses per endpoint; every 5xx and the kill that explains it; RSS and open
file descriptors of every process at the start and the end; the RSS of the processes that live through the
run, sampled every few seconds, with its slope after warm-up; the rate-limit checks. Exits non-zero on a
5xx no kill explains, an answer outside what its case expects, a hang, or limits that do not count again.
"""

# The package: traffic (the cases and one request), stack (Redis, gunicorn, nginx), processes (/proc, the RSS
# sampler and slope), faults (the one worker kill, the Redis restart), limits (the rate-limit checks),
# report (the judgement, Markdown and JSON), run (the clients and the conductor), __main__ (the command line).
