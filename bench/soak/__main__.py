"""The soak's command line: `python -m bench.soak`."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import bench.soak
from bench.soak.run import Soak

SEARCH_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin"
NEEDED = ("redis-server", "nginx", "openssl")
MIN_SECONDS = 240  # for the faults and the limit checks to fit


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=bench.soak.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=600, help="length of the traffic (default 600)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients sending at once (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one outlives the kills)")
    parser.add_argument("--threads", type=int, help="WORKER_THREADS (default: the service's; 1: sync workers)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    missing = [name for name in NEEDED if not shutil.which(name, path=SEARCH_PATH)]
    if missing:
        parser.error(f"not installed: {', '.join(missing)} (Debian packages redis-server, nginx, openssl)")
    if args.seconds < MIN_SECONDS:
        parser.error(f"--seconds: at least {MIN_SECONDS}, for the faults and the limit checks to fit")
    with tempfile.TemporaryDirectory(prefix="bgremover-soak-") as work:
        sys.exit(Soak(args, Path(work)).run())


if __name__ == "__main__":
    main()
