"""The segmentation stage's views and ensemble, on the real u2netp session."""

from __future__ import annotations

import numpy as np

from bgremover.processing.segment import ENSEMBLE_VIEWS, segment, views


def test_views_mirror_and_brighten_without_touching_the_input():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    before = rgb.copy()
    made = views(rgb)
    assert len(made) == len(ENSEMBLE_VIEWS) == 3
    assert np.array_equal(made[0][0], rgb) and made[0][1] is False
    assert np.array_equal(made[1][0], rgb[:, ::-1]) and made[1][1] is True
    brightened = made[2][0].astype(int)
    assert (brightened >= rgb).all() and (brightened > rgb).mean() > 0.9  # gamma < 1 lifts mid-tones
    assert np.array_equal(rgb, before)


def test_ensemble_of_a_mirror_symmetric_scene_is_symmetric(registry, photo_bytes):
    from bgremover.processing.decode import Limits, decode

    rgb = decode(photo_bytes, Limits()).rgb
    symmetric = np.concatenate([rgb, rgb[:, ::-1]], axis=1)
    model = registry.get("u2netp")
    single = segment(symmetric, model, refine="standard")
    ensemble = segment(symmetric, model, refine="high")
    assert ensemble.shape == single.shape == (320, 320) and ensemble.dtype == np.float32
    assert ensemble.min() >= 0.0 and ensemble.max() <= 1.0
    # the mirrored view is mapped back before averaging, so a symmetric input stays symmetric
    assert np.abs(ensemble - ensemble[:, ::-1]).mean() <= np.abs(single - single[:, ::-1]).mean() + 1e-3
    assert not np.array_equal(ensemble, single)


def test_session_threads_are_explicit_and_do_not_spin(registry, settings):
    options = registry.get("u2netp")._session.get_session_options()
    assert options.intra_op_num_threads == settings.ort_threads
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.dynamic_block_base") == "8"
