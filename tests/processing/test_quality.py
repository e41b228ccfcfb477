"""Quality on real ground truth: `standard` must beat the raw mask on duts-te-150 (MAE and IoU)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.quality import metrics, pairs
from bgremover.processing import refine, segment
from bgremover.processing.decode import Limits, decode

pytestmark = pytest.mark.slow


def evaluation_set(folder):
    """(RGB image, 8-bit ground truth) of every pair in an evaluation set, decoded as the engine does."""
    for image_path, mask_path in pairs(folder, None):
        yield decode(image_path.read_bytes(), Limits()).rgb, np.asarray(Image.open(mask_path).convert("L"))


def test_standard_beats_the_raw_mask_on_duts(data_dir, registry):
    model = registry.get("u2netp")
    scores = {"none": [], "standard": []}
    for rgb, truth in evaluation_set(data_dir / "duts-te-150"):
        mask = segment.segment(rgb, model, refine="standard").mask
        for level in scores:
            scores[level].append(metrics(refine.refine(rgb, mask, level), truth))
    none, standard = (np.mean(scores[k], axis=0) for k in ("none", "standard"))
    assert len(scores["none"]) == 150
    assert standard[0] < none[0] - 0.002, f"MAE standard {standard[0]:.4f} vs none {none[0]:.4f}"
    assert standard[1] >= none[1] - 0.005, f"IoU standard {standard[1]:.3f} vs none {none[1]:.3f}"
    assert standard[0] < 0.0514  # plain rembg's reference MAE on this set (data README)


def test_high_beats_standard_on_hair_and_fur(data_dir, registry):
    """`high` (an ensemble of views) must cut the alpha error on the alphamatting set, where edges are hard."""
    model = registry.get("u2netp")
    sad = {"standard": [], "high": []}
    for rgb, truth in evaluation_set(data_dir / "alphamatting-train-lowres"):
        for level in sad:
            alpha = refine.refine(rgb, segment.segment(rgb, model, refine=level).mask, level)
            sad[level].append(metrics(alpha, truth)[2])
    standard, high = np.mean(sad["standard"]), np.mean(sad["high"])
    assert len(sad["high"]) == 27
    assert high < standard - 1.5, f"SAD high {high:.1f} vs standard {standard:.1f}"
