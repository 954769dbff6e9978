"""Rows fitted several times: one board row pools the fits (mean over fits), its interval resamples fits and
then subjects and samples (hierarchical bootstrap, paired across rows), and its variance is split into training,
sampling and test-subject parts whose sizes match a simulation with known parts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchgen.board.build import build_boards
from benchgen.board.render import render_json
from benchgen.functional.hierarchical import pool, variance_parts
from tests.core.test_board_interval_defects import _rec


def _fitted(gen: str, fit_values: list[float], rng: np.random.Generator, shared: np.ndarray, seeds: int = 2):
    recs = []
    for fit, v in enumerate(fit_values):
        for seed in range(seeds):
            reps = v + shared + rng.normal(0, 0.01, len(shared))
            recs.append(_rec(gen, seed, v, reps, extra={"fit": fit, "fit_seed": 100 + fit},
                             cell_key=f"{gen}-{fit}-{seed}"))
    return recs


def test_one_fit_board_says_training_variance_is_left_out():
    rng = np.random.default_rng(0)
    board = build_boards(_fitted("a", [1.0], rng, rng.normal(0, 0.02, 200)))[0]
    assert "trained once: intervals leave out training variance" in board.caption()
    assert board.rows[0][2]["m"].fits == 1


def test_three_fits_pool_into_one_row_whose_interval_holds_the_training_spread():
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 0.02, 400)
    recs = _fitted("a", [1.0, 1.6, 1.3], rng, shared)
    board = build_boards(recs)[0]
    assert [g for g, _, _ in board.rows] == ["a"] and board.rows[0][1]["fits"] == [0, 1, 2]
    cell = board.rows[0][2]["m"]
    assert abs(cell.mean - 1.3) < 1e-12 and cell.fits == 3
    one_fit = build_boards(_fitted("a", [1.0], rng, shared))[0].rows[0][2]["m"]
    assert (cell.hi - cell.lo) > 5 * (one_fit.hi - one_fit.lo)  # the retraining spread dominates
    assert cell.lo < 1.1 and cell.hi > 1.5
    assert cell.parts is not None and cell.parts["training"] > 10 * cell.parts["test_subjects"]
    assert "fits per row: 3" in board.caption()
    flat = json.loads(render_json([board]))["cells"][0]
    assert flat["fits"] == 3 and set(flat["variance_parts"]) == {"training", "sampling", "test_subjects"}


def test_rows_stay_paired_through_the_real_subject_stream():
    rng = np.random.default_rng(2)
    shared = rng.normal(0, 0.5, 400)  # the test subjects dominate each marginal interval
    a = _fitted("a", [1.0, 1.02, 0.98], rng, shared)
    b = _fitted("b", [1.5, 1.52, 1.48], rng, shared)
    board = build_boards(a + b)[0]
    cells = {g: c["m"] for g, _, c in board.rows}
    assert cells["a"].hi > cells["b"].lo  # marginal intervals overlap
    assert board.rank_intervals("m") == {"a": (1, 1), "b": (2, 2)}  # paired replicates separate them


def test_variance_parts_recover_known_components():
    rng = np.random.default_rng(3)
    fits, seeds, n_boot = 40, 3, 4000
    s_train, s_sample, s_test = 0.5, 0.2, 0.3
    shared = rng.normal(0, s_test, n_boot)
    values: dict[int, list[float]] = {}
    reps: dict[int, list[np.ndarray]] = {}
    for f in range(fits):
        theta = rng.normal(0, s_train)
        for _ in range(seeds):
            v = theta + rng.normal(0, s_sample)
            values.setdefault(f, []).append(v)
            reps.setdefault(f, []).append(v + shared + rng.normal(0, s_sample, n_boot))
    parts = variance_parts(values, reps)
    assert abs(parts["test_subjects"] - s_test**2) < 0.15 * s_test**2
    assert abs(parts["sampling"] - s_sample**2 / (fits * seeds)) < 0.15 * s_sample**2 / (fits * seeds)
    assert abs(parts["training"] - s_train**2 / fits) < 0.6 * s_train**2 / fits  # 40 fits: a rough estimate
    assert pool(values, reps).fits == fits


def test_small_sample_stretch_matches_the_t_and_bias_factors():
    from benchgen.functional.hierarchical import small_sample_scale

    # sqrt(3/2) · t(0.975, 2) / z(0.975) from printed tables: 1.2247 · 4.3027 / 1.9600
    assert small_sample_scale(3) == pytest.approx(1.2247449 * 4.3026527 / 1.9599640, rel=1e-6)
    assert small_sample_scale(200) == pytest.approx(1.0, abs=0.02)  # many fits: a plain bootstrap over fits


def test_the_stretch_spreads_the_runs_not_each_replicates_own_noise():
    """Two runs with equal means and noisy replicates (a refitted classifier's, say): the small-sample stretch
    (about 9× at two runs) applies to the runs' offsets only, so the interval stays the width the replicates
    give, not nine times it; runs that do differ still get the stretched spread."""
    rng = np.random.default_rng(3)
    noisy = {run: [0.5 + rng.normal(0, 0.1, 400)] for run in (0, 1)}
    cell = pool({0: [0.5], 1: [0.5]}, noisy)
    lo, hi = np.percentile(cell.replicates, [2.5, 97.5])
    assert hi - lo < 0.5  # one run's own replicates span ~0.39; stretching them too gave ~2.5
    apart = pool({0: [0.4], 1: [0.6]}, {0: [0.4 + rng.normal(0, 0.01, 400)], 1: [0.6 + rng.normal(0, 0.01, 400)]})
    lo, hi = np.percentile(apart.replicates, [2.5, 97.5])
    assert hi - lo > 1.0  # the runs' offsets ±0.1, stretched ×9.2
