"""The segmentation stage: which views run, how they are batched and fused (a recording fake and the real u2netp)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bgremover.processing import segment as seg


class Recorder:
    """A fake model: the mask is the image's red channel scaled by `level`; it records every call's shape."""

    def __init__(self, level: float) -> None:
        self.size, self.level, self.calls = 320, level, []

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(images.shape)
        return images[..., 0].astype(np.float32) / 255.0 * self.level


def gradient(width: int = 64) -> np.ndarray:
    """An image whose red channel rises left to right: mirroring it is visible in the fake's mask."""
    rgb = np.zeros((48, width, 3), np.uint8)
    rgb[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    return rgb


def test_a_sure_first_mask_costs_one_pass():
    model = Recorder(level=0.0)  # all zeros: nothing unsure
    result = seg.segment(gradient(), model, refine="standard")
    assert result.passes == 1 and not result.second_opinion and model.calls == [(1, 320, 320, 3)]


def test_an_unsure_mask_asks_for_a_second_opinion_one_view_per_call():
    model = Recorder(level=1.0)  # a ramp from 0 to 1: mean a(1-a) ≈ 0.17, far above UNSURE
    small = seg.model_input(gradient(), 320)
    assert seg.uncertainty(seg.run_views(small, model, [seg.PLAIN])[0]) > seg.UNSURE
    model.calls.clear()
    result = seg.segment(gradient(), model, refine="standard")
    assert result.passes == 3 and result.second_opinion
    # the first pass, then the brightened view and the mirror, each a call of one image at the model's size
    assert model.calls == [(1, 320, 320, 3)] * 3
    assert result.mask.shape == (320, 320) and result.mask.dtype == np.float32


def test_the_second_opinion_is_the_median_of_three_views():
    model = Recorder(level=1.0)
    small = seg.model_input(gradient(), 320)
    first, bright, mirrored = seg.run_views(small, model, [seg.PLAIN, *seg.SECOND_OPINION])
    expected = np.median(np.stack([first, bright, mirrored]), axis=0)
    assert np.allclose(seg.segment(gradient(), model, refine="standard").mask, expected)
    assert (bright >= first - 1e-6).all() and (bright > first + 1e-3).any()  # gamma 0.8 brightens


def test_mirrored_views_are_mapped_back_before_fusing():
    model = Recorder(level=1.0)
    small = seg.model_input(gradient(), 320)
    plain, mirrored = seg.run_views(small, model, [seg.PLAIN, seg.View(mirrored=True)])
    assert np.allclose(plain, mirrored, atol=1 / 255)  # the fake follows the image, so mapped back they agree
    assert plain[0, -1] > plain[0, 0] + 0.9


def test_median_takes_the_middle_value():
    masks = [np.zeros((8, 8), np.float32), np.full((8, 8), 0.5, np.float32), np.ones((8, 8), np.float32)]
    fused = seg.median(masks)
    assert fused.shape == (8, 8) and fused.dtype == np.float32 and np.allclose(fused, 0.5)


def test_uncertainty_bounds():
    assert seg.uncertainty(np.array([0.0, 1.0])) == 0.0
    assert seg.uncertainty(np.full(4, 0.5)) == pytest.approx(0.25)


def test_none_is_always_one_pass_and_high_runs_every_view():
    model = Recorder(level=1.0)
    assert seg.segment(gradient(), model, refine="none").passes == 1
    assert seg.segment(gradient(), model, refine="high").passes == len(seg.HIGH_VIEWS)


def test_high_on_a_mirror_symmetric_scene_is_symmetric(registry, photo_bytes):
    from bgremover.processing.decode import Limits, decode

    rgb = decode(photo_bytes, Limits()).rgb
    symmetric = np.concatenate([rgb, rgb[:, ::-1]], axis=1)
    model = registry.get("u2netp")
    single = seg.segment(symmetric, model, refine="none").mask
    high = seg.segment(symmetric, model, refine="high")
    assert high.passes == len(seg.HIGH_VIEWS)
    assert high.mask.min() >= 0.0 and high.mask.max() <= 1.0
    # mirrored views are mapped back before the median, so a symmetric input stays (more) symmetric
    assert np.abs(high.mask - high.mask[:, ::-1]).mean() <= np.abs(single - single[:, ::-1]).mean() + 1e-3


def test_model_input_is_rembgs_lanczos_resize_to_the_models_square():
    rgb = np.random.default_rng(1).integers(0, 256, (90, 140, 3), dtype=np.uint8)
    small = seg.model_input(rgb, 64)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    assert np.array_equal(small, np.asarray(Image.fromarray(rgb).resize((64, 64), Image.Resampling.LANCZOS)))


def test_the_real_model_finds_the_subject(registry, photo_bytes):
    from bgremover.processing.decode import Limits, decode

    model = registry.get("u2netp")
    result = seg.segment(decode(photo_bytes, Limits()).rgb, model, refine="none")
    mask = result.mask
    assert result.passes == 1 and mask.shape == (model.size, model.size) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    centre, border = mask[100:220, 100:220].mean(), np.concatenate([mask[:10].ravel(), mask[-10:].ravel()]).mean()
    assert centre > 0.5 and border < 0.2  # the car fills the middle; the sky and road around it are background
