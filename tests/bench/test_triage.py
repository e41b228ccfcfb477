"""The triage figures (bench/triage.py): the fifth, the share of error, the AUC and the thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from bench.triage import (
    Scored,
    auc,
    bands,
    below,
    edge_softness,
    fifth,
    figures,
    least_sure,
    share_of_error,
    spread,
)


def scored(errors: list[float], sure: list[float]) -> list[Scored]:
    return [Scored(e, {"certainty (engine)": s}) for e, s in zip(errors, sure, strict=True)]


def test_a_fifth_is_at_least_one_image():
    assert [fifth(n) for n in (3, 27, 150)] == [1, 5, 30]


def test_least_sure_takes_the_lowest_values_and_breaks_ties_by_order():
    assert least_sure(np.array([0.5, 0.1, 0.5, 0.9]), 2).tolist() == [True, True, False, False]


def test_share_of_error():
    assert share_of_error(np.array([1.0, 3.0, 0.0]), np.array([False, True, True])) == 0.75
    assert share_of_error(np.zeros(3), np.array([True, False, False])) == 0.0


def test_auc_counts_pairs_and_half_of_the_ties():
    positive = np.array([True, False, False, True])
    assert auc(np.array([0.9, 0.1, 0.2, 0.8]), positive) == 1.0
    assert auc(np.array([0.1, 0.9, 0.8, 0.2]), positive) == 0.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), positive) == 0.5
    assert auc(np.array([0.9, 0.1, 0.9, 0.2]), positive) == 0.625  # of four pairs two won, one tied, one lost
    assert np.isnan(auc(np.ones(2), np.array([True, True])))


def test_auc_is_sklearns():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    scores, truth = rng.integers(0, 5, 40).astype(float), rng.random(40) < 0.3
    assert auc(scores, truth) == pytest.approx(metrics.roc_auc_score(truth, scores))


def test_figures_of_a_perfect_and_of_a_backwards_signal():
    errors = [0.5, 0.01, 0.02, 0.01, 0.3, 0.01, 0.02, 0.01, 0.01, 0.01]
    perfect = figures(scored(errors, [1 - e for e in errors]), "certainty (engine)")
    assert perfect.fifth_share == perfect.best_share == pytest.approx(0.8 / sum(errors)) and perfect.auc == 1.0
    backwards = figures(scored(errors, errors), "certainty (engine)")
    assert backwards.fifth_share == pytest.approx(0.02 / sum(errors)) and backwards.auc == 0.0


def test_below_a_threshold():
    images = scored([0.4, 0.1, 0.3, 0.2, 0.0], [0.5, 0.95, 0.85, 0.99, 0.97])
    flagged, error, caught = below(images, 0.9)
    assert flagged == 0.4 and error == pytest.approx(0.7) and caught == 1.0  # the worst (0.4) is below


def test_spread_and_edge_softness():
    hard = np.zeros((320, 320), np.float32)
    hard[100:200, 100:200] = 1.0
    assert spread([hard]) == 0.0 and spread([hard, 1 - hard]) == 0.5
    assert edge_softness(hard) == 0.0
    assert edge_softness(np.where(hard > 0, 0.5, 0.0).astype(np.float32)) > 0.4  # a half-opaque subject: all soft


def test_bands_hold_every_image_once_with_their_mean_error():
    images = scored([0.4, 0.1, 0.3, 0.2, 0.0], [0.5, 0.95, 0.85, 0.99, 1.0])
    found = bands(images)
    assert sum(count for _, _, count, _ in found) == len(images)
    by_low = {low: (count, ratio) for low, _, count, ratio in found}
    assert by_low[0.0] == (1, pytest.approx(0.4 / 0.2)) and by_low[0.98] == (2, pytest.approx(0.1 / 0.2))
    assert by_low[0.88] == (0, 0.0)
