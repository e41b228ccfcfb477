"""rembg's alpha matting (`a`, `af`, `ab`, `ae`) on our engine: `refine=high` against pymatting in a band,
and the drop-in's time per matting request with a competing load.

    python -m bench.matting [--data ../shared/data] [--limit N]
    python -m bench.matting --load [--clients 4] [--rounds 2]

Every method runs on the same alphamatting-train-lowres images in one run; SAD/1000 and MAE against the
true mattes, per image then averaged. The pymatting rows build rembg's trimap (mask > af: subject,
mask < ab: background, both eroded by an ae×ae square) and solve closed-form matting (Levin et al.)
for the unknown band only.

`--load` starts the server with its production gunicorn config, keeps `--clients` clients posting
1024-px photos to /remove-background, and meanwhile times rembg's POST /api/remove with `a=true` on
400-px photos for several af/ab/ae, from rembg's defaults to a trimap that is nearly all unknown.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from bench.photos import DATA, scaled_jpeg
from bench.quality import metrics, pairs
from bgremover.models.registry import ModelRegistry
from bgremover.processing import refine, segment
from bgremover.processing.decode import Limits, decode
from bgremover.processing.matting import band_matte, solver_threads
from bgremover.settings import load_settings

REMBG_DEFAULTS = (240, 10, 10)  # rembg's af, ab, ae
THRESHOLDS = (REMBG_DEFAULTS, (10, 250, 100), (0, 255, 255))  # af, ab, ae: defaults to nearly all unknown
MATTED = ("duts-te-150/images/ILSVRC2012_test_00000914.jpg", "alphamatting-train-lowres/images/GT01.png")
BUSY = ("dis5k-mini", "duts-te-150", "alphamatting-train-lowres")  # the competing clients' photos, at 1024 px


def main() -> None:
    """Print one markdown table (SAD, MAE, seconds per image) and the per-image wins of the best two."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--load", action="store_true", help="time matting requests beside competing clients")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.load:
        under_load(args.clients, args.rounds)
        return
    settings = load_settings()
    solver_threads.configure(settings.solver_threads)  # as the server does
    registry = ModelRegistry.from_settings(settings)  # the backend and precision the server would use
    model = registry.load(settings.model_name)
    af, ab, ae = REMBG_DEFAULTS
    names = {
        "none": "`refine=none` (rembg without `a`)",
        "high": "`refine=high`",
        "band_none": "pymatting band on the raw mask (rembg's recipe)",
        "band_high": "pymatting band on `refine=high`",
    }
    rows: dict[str, list[tuple[float, float, float]]] = {key: [] for key in names}
    folder = args.data.resolve() / "alphamatting-train-lowres"
    found = pairs(folder, args.limit)
    for image_path, mask_path in tqdm(found, unit="img"):
        rgb = decode(image_path.read_bytes(), Limits()).rgb
        truth = np.asarray(Image.open(mask_path).convert("L"))
        for level in ("none", "high"):
            started = time.perf_counter()
            alpha = refine.refine(rgb, segment.segment(rgb, model, refine=level).mask, level)
            base = time.perf_counter() - started
            started = time.perf_counter()
            matted = band_matte(rgb, alpha, af, ab, ae)
            band = time.perf_counter() - started
            for key, result, seconds in ((level, alpha, base), (f"band_{level}", matted, base + band)):
                mae, _, sad = metrics(result, truth)
                rows[key].append((sad, mae, seconds))
    print(
        f"alphamatting-train-lowres ({len(found)} images), af={af} ab={ab} ae={ae}, `{settings.model_name}`, "
        f"MODEL_THREADS={settings.model_threads}, {registry.inference.backend} {registry.precision_label()}\n"
    )
    print("| method | SAD ↓ | MAE ↓ | s/image |\n|---|---|---|---|")
    for key, values in rows.items():
        sad, mae, secs = np.mean(np.array(values), axis=0)
        print(f"| {names[key]} | {sad:.1f} | {mae:.4f} | {secs:.2f} |")
    high, band = np.array(rows["high"])[:, 0], np.array(rows["band_high"])[:, 0]
    print(
        f"\npymatting band on `refine=high` vs `refine=high`, per image: {int((band < high).sum())} lower SAD, "
        f"{int((band > high).sum())} higher; median change {np.median(band - high):+.2f}"
    )


def under_load(clients: int, rounds: int) -> None:
    """Print the seconds of each matting request, first on its own, then beside `clients` busy clients."""
    from bench.photos import interleaved
    from bench.speed import ours

    settings = load_settings()
    server = ours(settings.web_concurrency, settings.model_threads, settings.worker_threads)
    log = Path(tempfile.mkdtemp()) / "access.log"  # each request's stage timings, from its access-log line
    server = dataclasses.replace(server, env={**server.env, "LOG_LEVEL": "INFO", "LOG_FILE": str(log)})
    photos = [(path, scaled_jpeg(Image.open(DATA / path), 400)) for path in MATTED]
    busy = [scaled_jpeg(Image.open(path), 1024) for path in interleaved(8, BUSY)]
    server.start(photos[0][1])
    dataclasses.replace(server, path="/api/remove", fields={"a": "true"}).cutout(photos[0][1])  # loads pymatting
    stop = threading.Event()
    answered: list[int] = []

    def client() -> None:
        import requests

        session = requests.Session()
        while not stop.is_set():
            answered.append(server.cutout(busy[len(answered) % len(busy)], session).status_code)

    print(
        f"rembg's POST /api/remove, a=true, 400-px photos; MODEL_THREADS={settings.model_threads}, "
        f"WORKER_THREADS={settings.worker_threads}, MATTING_THREADS={settings.solver_threads}\n"
    )
    print("| photo | af, ab, ae | load | status | s/request | segment s | matting s |\n|---|---|---|---|---|---|---|")
    try:
        for load in (0, clients):
            threads = [threading.Thread(target=client, daemon=True) for _ in range(load)]
            for thread in threads:
                thread.start()
            time.sleep(3 if load else 0)  # the clients are under way before the first timed request
            for path, data in photos:
                for af, ab, ae in THRESHOLDS:
                    fields = {"a": "true", "af": str(af), "ab": str(ab), "ae": str(ae)}
                    matting = dataclasses.replace(server, path="/api/remove", fields=fields)
                    for _ in range(rounds):
                        started = time.perf_counter()
                        status = matting.cutout(data).status_code
                        seconds = time.perf_counter() - started
                        label = f"{load} clients on 1024 px" if load else "none"
                        stages = last_stages(log, "/api/remove")
                        segment, band = (stages.get(name, float("nan")) / 1000 for name in ("segment", "matting"))
                        print(
                            f"| {Path(path).name} | {af}, {ab}, {ae} | {label} | {status} | {seconds:.2f} "
                            f"| {segment:.2f} | {band:.2f} |"
                        )
            stop.set()
            for thread in threads:
                thread.join()
            stop.clear()
    finally:
        stop.set()
        server.stop()
    print(f"\ncompeting requests answered: {len(answered)}, of them not 200: {sum(s != 200 for s in answered)}")


def last_stages(log: Path, path: str) -> dict[str, float]:
    """The stage timings (ms) of the last request to `path` in a JSON access log."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    found = [line for line in lines if line.get("path") == path and "stages_ms" in line]
    return found[-1]["stages_ms"] if found else {}


if __name__ == "__main__":
    main()
