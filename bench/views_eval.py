"""Score view strategies (which views, how fused, gated or not) with bgremover's own refinement, on cached masks.

    python -m bench.views_eval duts-te-150,alphamatting-train-lowres STRATEGY,STRATEGY,...

Reads `bench.views_cache`'s masks; prints MAE, IoU, SAD and model passes per image (in 320-px passes) per
strategy. The strategies behind docs/quality.md: `bf` (one pass), `g0.02_med3` (standard), `high5c` (high).
Extra views (`bf320gm`, `bf320g65`, `bf384g`) are read from a second cache when present (`--need3`).
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench.quality import metrics, pairs
from bgremover.processing import decode as D
from bgremover.processing import refine as R

cv2.setNumThreads(1)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
C = Path.home() / ".cache" / "bgremover-views"
lim = D.Limits(50, 8192, 8192 * 8192)


def sharp(x, k=2.0):
    return np.clip((x - 0.5) * k + 0.5, 0, 1).astype(np.float32)


def unc(x):
    return float((x * (1 - x)).mean())


def rs(x, s):
    return cv2.resize(x, (s, s), interpolation=cv2.INTER_LINEAR)


C384 = (384 / 320) ** 2


def S(name, fn):
    return (name, fn)


def gate(t, second, k=2.0):
    def f(r):
        a = r["bf320"]
        if unc(a) <= t:
            return a, 1.0
        m, c = second(r)
        return m, c  # the second strategy's cost includes the first 320 pass

    return f


def pick384(r):
    a, b = r["bf320"], r["bf384"]
    return (sharp(a) if unc(a) <= unc(b) else sharp(b)), C384


def pick384_nos(r):
    a, b = r["bf320"], r["bf384"]
    return (a if unc(a) <= unc(b) else b), C384


def avg_m(r):
    return sharp((r["bf320"] + r["bf320m"]) / 2), 1.0


def avg4(r):
    m = (rs(r["bf320"], 384) + rs(r["bf320m"], 384) + r["bf384"] + r["bf384m"]) / 4
    return sharp(m), 1 + 2 * C384


def pick_m384(r):  # 384 + mirror384 averaged vs 320
    a = r["bf320"]
    b = (r["bf384"] + r["bf384m"]) / 2
    return (sharp(a) if unc(a) <= unc(b) else sharp(b)), 2 * C384


def pickall(r):
    cands = [r[k] for k in ("bf320", "bf384")]
    return sharp(min(cands, key=unc)), 1


STRATS = {
    "none": lambda r: (r["bf320"], 1.0),
    "f32": lambda r: (r["f320"], 1.0),
    "bf": lambda r: (r["bf320"], 1.0),
    "bf_sharp": lambda r: (sharp(r["bf320"]), 1.0),
    "avg_m": lambda r: (avg_m(r)[0], 2.0),
    "pick384": pick384,
    "pick384_nos": pick384_nos,
    "pick_m384": pick_m384,
    "avg4": avg4,
    "pickall": pickall,
}
for t in (0.02, 0.03, 0.04, 0.05):
    STRATS[f"g{t}_pick384"] = gate(t, pick384)
    STRATS[f"g{t}_pickm384"] = gate(t, pick_m384)
    STRATS[f"g{t}_avg4"] = gate(t, avg4)


def avg(keys, k=None):
    def f(r):
        ms = (
            [rs(r[x], 384) if x.startswith("bf320") or x == "f320" else r[x] for x in keys]
            if any("384" in x for x in keys)
            else [r[x] for x in keys]
        )
        m = sum(ms) / len(ms)
        return (sharp(m, k) if k else m.astype(np.float32)), sum(C384 if "384" in x else 1.0 for x in keys)

    return f


def pickv(keys, k=2.0):
    def f(r):
        m = min((r[x] for x in keys), key=unc)
        return (sharp(m, k) if k else m), sum(C384 if "384" in x else 1.0 for x in keys)

    return f


V3 = ["bf320", "bf320m", "bf320g"]
V5 = [*V3, "bf384", "bf384m"]
STRATS.update(
    {
        "gamma": lambda r: (r["bf320g"], 1.0),
        "avg3": avg(V3),
        "avg3s": avg(V3, 2.0),
        "avg3s15": avg(V3, 1.5),
        "avg5": avg(V5),
        "avg5s": avg(V5, 2.0),
        "avg5s15": avg(V5, 1.5),
        "avg_m_nos": avg(["bf320", "bf320m"]),
        "avg_g": avg(["bf320", "bf320g"]),
        "avg_gs": avg(["bf320", "bf320g"], 2.0),
        "pick3": pickv(V3),
        "pick3_nos": pickv(V3, None),
        "pick5": pickv(V5),
        "pick5_nos": pickv(V5, None),
        "pick_g_nos": pickv(["bf320", "bf320g"], None),
    }
)
for t in (0.01, 0.015, 0.02, 0.03):
    STRATS[f"g{t}_avg_m"] = gate(t, avg(["bf320", "bf320m"]))
    STRATS[f"g{t}_avg3"] = gate(t, avg(V3))
    STRATS[f"g{t}_avg_g"] = gate(t, avg(["bf320", "bf320g"]))
    STRATS[f"g{t}_pick_g"] = gate(t, pickv(["bf320", "bf320g"], None))
    STRATS[f"g{t}_pick384n"] = gate(t, pickv(["bf320", "bf384"], None))
if len(sys.argv) > 3:
    import glob

    for name in sys.argv[1].split(","):
        us = sorted(unc(dict(np.load(f))["bf320"]) for f in glob.glob(f"{C}/{name}__*.npz"))
        print(name, "unc quantiles", [round(us[int(q * (len(us) - 1))], 4) for q in (0.1, 0.25, 0.5, 0.75, 0.9)])


def wavg(keys, p=1.0, k=None):
    def f(r):
        ms = [rs(r[x], 384) if ("384" not in x and any("384" in y for y in keys)) else r[x] for x in keys]
        w = np.array([1.0 / max(unc(m), 1e-4) ** p for m in ms])
        w /= w.sum()
        m = sum(wi * mi for wi, mi in zip(w, ms, strict=False))
        return (sharp(m, k) if k else m.astype(np.float32)), sum(C384 if "384" in x else 1.0 for x in keys)

    return f


STRATS.update(
    {
        "wavg3": wavg(V3),
        "wavg3p2": wavg(V3, 2),
        "wavg_g": wavg(["bf320", "bf320g"]),
        "wavg_gp2": wavg(["bf320", "bf320g"], 2),
        "wavg5p2": wavg(V5, 2),
        "avg_gm": avg(["bf320g", "bf320m"]),
        "wavg_gm": wavg(["bf320", "bf320g", "bf320m"], 1),
    }
)
for t in (0.006, 0.008, 0.01, 0.015, 0.02):
    STRATS[f"g{t}_pick_g"] = gate(t, pickv(["bf320", "bf320g"], None))
    STRATS[f"g{t}_wavg_g"] = gate(t, wavg(["bf320", "bf320g"], 2))
    STRATS[f"g{t}_avg3"] = gate(t, avg(V3))
    STRATS[f"g{t}_wavg3"] = gate(t, wavg(V3, 2))
for t in (0.01, 0.015, 0.02, 0.03):
    STRATS[f"g{t}_pickg384"] = gate(t, pickv(["bf320", "bf320g", "bf384"], None))
    STRATS[f"g{t}_pickg384s"] = gate(t, pickv(["bf320", "bf320g", "bf384"], 2.0))
    STRATS[f"g{t}_pick384n"] = gate(t, pickv(["bf320", "bf384"], None))


def med(keys, k=None, size=320):
    def f(r):
        ms = [rs(r[x], size) if r[x].shape[0] != size else r[x] for x in keys]
        m = np.median(np.stack(ms), axis=0).astype(np.float32)
        return (sharp(m, k) if k else m), sum(C384 if "384" in x else 1.0 for x in keys)

    return f


def mean_at(keys, k=None, size=320):
    def f(r):
        ms = [rs(r[x], size) if r[x].shape[0] != size else r[x] for x in keys]
        m = (sum(ms) / len(ms)).astype(np.float32)
        return (sharp(m, k) if k else m), sum(C384 if "384" in x else 1.0 for x in keys)

    return f


G3 = ["bf320", "bf320g", "bf384"]
for t in (0.01, 0.015, 0.02, 0.03):
    STRATS[f"g{t}_med3"] = gate(t, med(G3, size=384))
    STRATS[f"g{t}_mean3"] = gate(t, mean_at(G3, size=384))
    STRATS[f"g{t}_mean3s"] = gate(t, mean_at(G3, 2.0, size=384))
    STRATS[f"g{t}_med4"] = gate(t, med([*G3, "bf320m"], size=384))
STRATS["med3"] = med(G3, size=384)
STRATS["mean3"] = mean_at(G3, size=384)
STRATS["med5"] = med(V5, size=384)
H = {
    "h_pm_g_gm": ["bf320", "bf320m", "bf320g", "bf320gm"],
    "h_pm_g_gm_384": ["bf320", "bf320m", "bf320g", "bf320gm", "bf384"],
    "h_pm_g_gm_384g": ["bf320", "bf320m", "bf320g", "bf320gm", "bf384g"],
    "h_p_g_g65_384": ["bf320", "bf320g", "bf320g65", "bf384"],
    "h_p_g_384_384g": ["bf320", "bf320g", "bf384", "bf384g"],
    "h_p_m_g_gm_384_384g": ["bf320", "bf320m", "bf320g", "bf320gm", "bf384", "bf384g"],
    "h_p_g_gm_384": ["bf320", "bf320g", "bf320gm", "bf384"],
    "h_p_g_gm_384_384m": ["bf320", "bf320g", "bf320gm", "bf384", "bf384m"],
    "h_g_gm_g65_384g": ["bf320g", "bf320gm", "bf320g65", "bf384g"],
    "h_p_g_g65": ["bf320", "bf320g", "bf320g65"],
}
for k, v in H.items():
    STRATS["med_" + k] = med(v, size=384 if any("384" in x for x in v) else 320)
    STRATS["mean_" + k] = mean_at(v, size=384 if any("384" in x for x in v) else 320)
STRATS["g65"] = lambda r: (r["bf320g65"], 1.0)
STRATS["g0.02_fixed"] = gate(0.02, med(["bf320", "bf320g", "bf320m"]))
STRATS["high_fixed"] = med(["bf320", "bf320m", "bf320g", "bf320gm", "bf320g65"])
STRATS["high_new"] = med(["bf320", "bf320m", "bf320g", "bf320gm", "bf384g"], size=384)
STRATS["high7"] = med(["bf320", "bf320m", "bf320g", "bf320gm", "bf320g65", "bf384", "bf384g"], size=384)
STRATS["high5b"] = med(["bf320", "bf320g", "bf320gm", "bf320g65", "bf384g"], size=384)
STRATS["high5c"] = med(["bf320", "bf320m", "bf320g", "bf320g65", "bf384"], size=384)
STRATS["high_g3"] = med(["bf320", "bf320m", "bf320g", "bf320g65", "bf320gm"])
sets = sys.argv[1].split(",") if len(sys.argv) > 1 else ["duts-te-150", "alphamatting-train-lowres", "dis5k-mini"]
only = sys.argv[2].split(",") if len(sys.argv) > 2 else list(STRATS)
for name in sets:
    rows = {k: [] for k in only}
    for img, mask in pairs(DATA / name, None):
        f = C / f"{name}__{img.stem}.npz"
        if not f.exists():
            continue
        try:
            r = dict(np.load(f))
            f3 = C.parent / "bgremover-views-extra" / f.name
            if f3.exists():
                r.update(dict(np.load(f3)))
            elif "--need3" in sys.argv:
                continue
        except Exception:
            continue
        rgb = D.decode(img.read_bytes(), lim).rgb
        truth = np.asarray(Image.open(mask).convert("L"))
        if truth.shape != rgb.shape[:2]:
            truth = cv2.resize(truth, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        for k in only:
            m, cost = STRATS[k](r)
            level = "none" if k == "none" else "standard"
            alpha = R.refine(rgb, m, level)
            rows[k].append((*metrics(alpha, truth), cost))
    n = len(rows[only[0]])
    print(f"== {name} ({n})")
    base = np.mean(np.array(rows["bf"]), axis=0) if "bf" in rows else None
    for k in only:
        a = np.array(rows[k])
        mae, iou, sad, cost = a.mean(axis=0)
        rel = f"{(mae / base[0] - 1) * 100:+.1f}%" if base is not None else ""
        print(f"{k:18s} MAE {mae:.4f} {rel:>7s} IoU {iou:.3f} SAD {sad:7.2f} cost {cost:.2f}")
