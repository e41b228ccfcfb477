"""The segmentation stage: which views of which model run, how they are fused (recording fakes, and the real models)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bgremover.processing import segment as seg


class Recorder:
    """A fake model: the mask is the image's red channel scaled by `level`; it records every call's shape."""

    def __init__(self, level: float, size: int = 320) -> None:
        self.size, self.level, self.calls = size, level, []

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(rgb).resize((self.size, self.size), Image.Resampling.LANCZOS))

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.calls.append(images.shape)
        return np.clip(images[..., 0].astype(np.float32) / 255.0 * self.level, 0.0, 1.0)


def gradient(width: int = 64) -> np.ndarray:
    """An image whose red channel rises left to right: mirroring it is visible in the fake's mask."""
    rgb = np.zeros((48, width, 3), np.uint8)
    rgb[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    return rgb


def views(model: Recorder, *wanted: seg.View) -> list[np.ndarray]:
    """The fake's masks of the gradient's views, computed apart from `segment`."""
    return seg.run_views(model.resize(gradient()), model, list(wanted))


ONE = (1, 320, 320, 3)


def test_a_sure_first_mask_costs_one_pass_and_never_asks_the_cascade():
    model, cascade = Recorder(level=0.0), Recorder(level=1.0)  # all zeros: nothing unsure
    result = seg.segment(gradient(), model, refine="standard", cascade=cascade)
    assert (result.passes, result.cascade_passes, result.certainty) == (1, 0, 1.0)
    assert model.calls == [ONE] and cascade.calls == []


def test_an_unsure_mask_goes_to_the_cascade_model_and_is_fused_as_the_plan_says():
    model, cascade = Recorder(level=1.0), Recorder(level=0.9)  # a ramp: mean a(1-a) ≈ 0.17, far above the gate
    result = seg.segment(gradient(), model, refine="standard", cascade=cascade)
    plan = seg.PLANS["standard", True]
    assert seg.uncertainty(views(Recorder(level=1.0), seg.PLAIN)[0]) > plan.gate
    assert (result.passes, result.cascade_passes) == (1 + len(plan.primary) + len(plan.cascade), len(plan.cascade))
    assert model.calls == [ONE] * (1 + len(plan.primary)) and cascade.calls == [ONE] * len(plan.cascade)
    expected = views(model, seg.PLAIN, *plan.primary) + views(cascade, *plan.cascade)
    assert plan.fusion == "sharpened-mean"
    mean = np.mean(expected, axis=0)
    assert np.allclose(result.mask, np.clip((mean - 0.5) * seg.SHARPEN + 0.5, 0, 1), atol=1e-6)
    assert result.mask.shape == (320, 320) and result.mask.dtype == np.float32
    assert 0.0 < result.certainty < 1.0


def test_a_cascade_model_that_finds_no_subject_is_overruled_by_the_primarys_second_opinion():
    model, cascade = Recorder(level=1.0), Recorder(level=0.0)  # the cascade model sees nothing at all
    result = seg.segment(gradient(), model, refine="standard", cascade=cascade)
    fallback = seg.PLANS["standard", True].fallback
    assert fallback is not None and cascade.calls  # it was asked, and then overruled
    assert result.passes == len(model.calls) + len(cascade.calls) and result.cascade_passes == len(cascade.calls)
    expected = np.median(np.stack(views(model, seg.PLAIN, *fallback.primary)), axis=0)
    assert np.allclose(result.mask, expected)


def test_without_a_cascade_model_the_second_opinion_is_the_median_of_three_u2netp_views():
    model = Recorder(level=1.0)
    result = seg.segment(gradient(), model, refine="standard")
    assert result.passes == 3 and model.calls == [ONE] * 3
    first, bright, mirrored = views(model, seg.PLAIN, *seg.SECOND_OPINION.primary)
    assert np.allclose(result.mask, np.median(np.stack([first, bright, mirrored]), axis=0))
    assert (bright >= first - 1e-6).all() and (bright > first + 1e-3).any()  # gamma 0.8 brightens


def test_high_without_a_cascade_takes_the_median_of_five_views_not_any_one_of_them():
    model = Recorder(level=1.3)  # clipped at 1: the views differ where brightening pushes them over
    result = seg.segment(gradient(), model, refine="high")
    five = views(model, seg.PLAIN, *seg.FIVE_VIEWS.primary)
    assert result.passes == 5 and np.allclose(result.mask, np.median(np.stack(five), axis=0))
    assert np.abs(np.mean(five, axis=0) - result.mask).max() > 1e-3  # a median, not a mean
    assert np.abs(five[0] - result.mask).max() > 1e-3  # nor the plain view


def test_high_asks_the_cascade_even_where_the_first_mask_is_sure():
    model, cascade = Recorder(level=0.0), Recorder(level=0.0)
    sure = seg.segment(gradient(), model, refine="high", cascade=cascade)
    assert cascade.calls and sure.cascade_passes == len(seg.PLANS["high", True].cascade)


def test_none_is_one_pass_of_the_primary_whatever_its_doubt():
    model, cascade = Recorder(level=1.0), Recorder(level=1.0)
    result = seg.segment(gradient(), model, refine="none", cascade=cascade)
    assert result.passes == 1 and cascade.calls == []
    assert np.array_equal(result.mask, views(model, seg.PLAIN)[0])


def test_mirrored_views_are_mapped_back_before_fusing():
    model = Recorder(level=1.0)
    plain, mirrored = views(model, seg.PLAIN, seg.MIRROR)
    assert np.allclose(plain, mirrored, atol=1 / 255)  # the fake follows the image, so mapped back they agree
    assert plain[0, -1] > plain[0, 0] + 0.9


def test_fusions_and_measures():
    masks = [np.zeros((8, 8), np.float32), np.full((8, 8), 0.5, np.float32), np.ones((8, 8), np.float32)]
    assert np.allclose(seg.median(masks), 0.5) and seg.median(masks).dtype == np.float32
    assert np.allclose(seg.sharpened_mean([np.full(4, 0.3), np.full(4, 0.5)], k=2.0), 0.3)
    assert np.allclose(seg.sharpened_mean([np.zeros(4), np.full(4, 0.2)], k=2.0), 0.0)  # clipped
    assert seg.uncertainty(np.array([0.0, 1.0])) == 0.0 and seg.uncertainty(np.full(4, 0.5)) == pytest.approx(0.25)
    assert seg.certainty([np.array([0.0, 1.0])]) == 1.0 and seg.certainty([np.zeros(2), np.ones(2)]) == 0.0
    assert seg.subject_area(np.array([0.2, 0.5, 0.9, 0.1])) == 0.5


@pytest.mark.slow
def test_the_real_cascade_re_decides_unsure_photos_and_leaves_sure_ones(registry, data_dir):
    from bench.quality import metrics, pairs
    from bgremover.processing.decode import Limits, decode

    primary, cascade = registry.get("u2netp"), registry.get("u2net")
    gated, plain_mae, cascade_mae = 0, [], []
    for image, mask in pairs(data_dir / "duts-te-150", 40):
        rgb = decode(image.read_bytes(), Limits()).rgb
        alone = seg.segment(rgb, primary, refine="none")
        both = seg.segment(rgb, primary, refine="standard", cascade=cascade)
        truth = np.asarray(Image.open(mask).convert("L").resize(alone.mask.shape[::-1]))
        if seg.uncertainty(alone.mask) <= seg.CASCADE.gate:
            assert both.cascade_passes == 0 and np.array_equal(both.mask, alone.mask)
            continue
        gated += 1
        assert both.cascade_passes == 2 and both.certainty < 1.0
        plain_mae.append(metrics(alone.mask, truth)[0])
        cascade_mae.append(metrics(both.mask, truth)[0])
    assert 4 <= gated <= 24, f"{gated} of 40 photos went to the cascade"
    assert np.mean(cascade_mae) < 0.85 * np.mean(plain_mae)  # the cascade model is far better where u2netp doubts


def test_the_real_model_finds_the_subject(registry, photo_bytes):
    from bgremover.processing.decode import Limits, decode

    model = registry.get("u2netp")
    result = seg.segment(decode(photo_bytes, Limits()).rgb, model, refine="none")
    mask = result.mask
    assert result.passes == 1 and mask.shape == (model.size, model.size) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    centre, border = mask[100:220, 100:220].mean(), np.concatenate([mask[:10].ravel(), mask[-10:].ravel()]).mean()
    assert centre > 0.5 and border < 0.2  # the car fills the middle; the sky and road around it are background
