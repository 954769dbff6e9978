"""Repeated draws of the training set (`[evaluation] draws = R`): the splits each draw holds, a run fitting and
scoring every generator per draw, keys left as they were for suites that draw once, the board pooling draws,
and the cluster plan's units per draw."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchgen.board.build import build_boards
from benchgen.cluster.plan import Unit, plan_units
from benchgen.cluster.resources import executor_config
from benchgen.data.load import list_dataset, load_data
from benchgen.data.splits import assign_subjects, redraw
from benchgen.errors import ConfigError
from benchgen.fit.fit import checkpoint_key, fit_seed
from benchgen.functional.hierarchical import pool, small_sample_scale
from benchgen.results.cells import cell_key, plan_cells
from benchgen.results.store import ResultStore, draw_of
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.suites import conditional_suite


def write(tmp_path: Path, extra: str = "", n: int = 6) -> Path:
    p = tmp_path / "cond.toml"
    p.write_text(conditional_suite(n, extra))
    return p


# ------------------------------------------------------------------------------------------ splits
def test_redraw_keeps_the_test_split_and_reshuffles_train_and_val_per_stratum():
    ids = [f"s{i:02d}" for i in range(40)]
    strata = ["a"] * 20 + ["b"] * 20
    fractions = {"train": 0.25, "val": 0.25, "test": 0.5}
    idx = assign_subjects(ids, fractions, 0, strata)
    again = redraw(ids, idx, fractions, 7, strata)
    assert again["test"] == idx["test"]
    assert sorted(again["train"] + again["val"]) == sorted(idx["train"] + idx["val"])  # the same pool
    assert set(again["train"]) != set(idx["train"])
    assert Counter(strata[i] for i in again["train"]) == Counter(strata[i] for i in idx["train"]) == {"a": 5, "b": 5}
    assert redraw(ids, idx, fractions, 7, strata) == again  # seeded


def test_draws_need_a_val_pool_and_a_positive_count(tmp_path):
    with pytest.raises(ConfigError, match="evaluation.draws: must be ≥ 1"):
        load_suite(write(tmp_path, "draws = 0"))
    p = tmp_path / "noval.toml"
    p.write_text(conditional_suite(6, "draws = 2").replace("train = 0.5, val = 0.25, test = 0.25",
                                                           "train = 0.5, test = 0.5"))
    with pytest.raises(ConfigError, match="val fraction"):
        load_suite(p)


# ------------------------------------------------------------------------------------ keys
def test_keys_of_a_suite_that_draws_once_are_as_before(home, tmp_path):
    """Golden keys computed before draws existed: stored results of such suites keep opening."""
    for extra in ("", "draws = 1"):
        suite = load_suite(write(tmp_path, extra))
        fp = list_dataset(suite).fingerprint
        assert fp == "ef5e67b83d475942"
        gauss = suite.generators["gaussian"]
        assert checkpoint_key(gauss, fp) == "gaussian-3befe1c5525c903d"
        assert cell_key(suite, gauss, 0, suite.metrics["mmd"], fp) == "0c372616e57829690944f193"
        assert cell_key(suite, suite.generators["holdout"], 0, suite.metrics["mmd"], fp) == "5b617df324617f2184cc478e"
        assert [p.draw for p in plan_cells(suite, ["gaussian"], ResultStore(tmp_path / "r.sqlite"), fp)] == [None]
        assert load_data(suite).draw is None
    assert fit_seed(3, None) == fit_seed(3, 0) == 3 and fit_seed(3, 1) != 3


def test_keys_of_a_suite_with_draws_name_the_draw(home, tmp_path):
    suite = load_suite(write(tmp_path, "draws = 2"))
    fp = list_dataset(suite).fingerprint
    gauss, mmd = suite.generators["gaussian"], suite.metrics["mmd"]
    cells = {cell_key(suite, gauss, 0, mmd, fp, d) for d in (0, 1)} | {cell_key(suite, gauss, 0, mmd, fp)}
    ckpts = {checkpoint_key(gauss, fp, draw=d) for d in (0, 1)} | {checkpoint_key(gauss, fp)}
    assert len(cells) == 3 and len(ckpts) == 3
    # a draw's keys do not depend on how many draws there are (like seeds): raising draws adds cells only
    five = load_suite(write(tmp_path, "draws = 5"))
    assert cell_key(five, five.generators["gaussian"], 0, five.metrics["mmd"], fp, 1) == \
        cell_key(suite, gauss, 0, mmd, fp, 1)


# ------------------------------------------------------------------------------------ a run
def test_a_run_with_two_draws_fits_per_draw_and_the_board_pools_them(home, tmp_path):
    suite = load_suite(write(tmp_path, "draws = 2"))
    d0, d1 = load_data(suite, draw=0), load_data(suite, draw=1)
    assert d0.splits.test.subject_ids == d1.splits.test.subject_ids  # one reference for every draw
    assert set(d0.splits.train.subject_ids) != set(d1.splits.train.subject_ids)
    assert set(d0.splits.train.subject_ids).isdisjoint(d0.splits.test.subject_ids)
    assert set(d1.splits.train.subject_ids).isdisjoint(d1.splits.test.subject_ids)

    summary = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert summary.ok, summary.errors
    records = ResultStore(tmp_path / "r.sqlite").records(suite="cond")
    assert {draw_of(r) for r in records} == {0, 1}
    mains = [r for r in records if r["metric"] == "memorization"]
    assert Counter((r["generator"], draw_of(r)) for r in mains) == {(g, d): 1 for g in suite.generators
                                                                   for d in (0, 1)}
    # memorization looks at each draw's own training set: holdout's val scans are never its training scans
    gauss = [r for r in records if r["generator"] == "gaussian" and r["metric"] == "mmd"]
    assert {r["extra"]["fit_seed"] for r in gauss} == {fit_seed(0, 0), fit_seed(0, 1)}
    # the board: one cell over both draws, its mean the mean of the draws' values
    board = build_boards(records)[0]
    row = {g: (info, cells) for g, info, cells in board.rows}
    info, cells = row["gaussian"]
    assert info["draws"] == [0, 1]
    assert cells["mmd"].mean == pytest.approx(np.mean([r["value"] for r in gauss]))
    assert cells["mmd"].lo <= cells["mmd"].mean <= cells["mmd"].hi
    assert "draws of the training set" in board.caption()
    again = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert again.computed == 0 and again.cached == summary.computed


def test_the_cluster_plan_has_units_per_draw(home, tmp_path):
    suite = load_suite(write(tmp_path, "draws = 2"))
    fp = list_dataset(suite).fingerprint
    plans = plan_cells(suite, ["gaussian"], ResultStore(tmp_path / "r.sqlite"), fp)
    units = plan_units(suite, plans, executor_config(suite), fp).units
    ids = [u.id for u in units]
    assert ids == ["fit-gaussian-draw0", "score-gaussian-draw0-seed0", "fit-gaussian-draw1",
                   "score-gaussian-draw1-seed0"]
    assert [u.draw for u in units] == [0, 0, 1, 1]
    assert Unit.from_json(units[3].to_json()) == units[3]
    assert units[1].save_samples and not units[3].save_samples


# --------------------------------------------------------------------------------- pooling
# Draws are training runs: the board pools them with the fits' hierarchical bootstrap (benchgen.functional.hierarchical).
def pool_groups(values, replicates):
    return pool({g: [v] for g, v in enumerate(values)}, {g: [x] for g, x in enumerate(replicates)})


def test_pooling_draws_is_the_bootstrap_of_the_mean_over_groups_when_groups_have_no_spread():
    """With every replicate of a group equal to its value, the pooled replicates are the bootstrap of the mean
    over groups, stretched for few groups: their sd is c·√((R−1)/R)·s/√R (s the sd of the R values)."""
    values = np.array([0.1, 0.4, -0.2, 0.3, 0.0])
    pooled = pool_groups(values, np.repeat(values[:, None], 20_000, axis=1))
    r = len(values)
    assert pooled.value == pytest.approx(values.mean())
    expected_sd = small_sample_scale(r) * np.sqrt((r - 1) / r) * values.std(ddof=1) / np.sqrt(r)
    assert pooled.replicates.std() == pytest.approx(expected_sd, rel=0.03)


def test_pooling_draws_pairs_rows_and_adds_the_within_group_spread():
    rng = np.random.default_rng(0)
    values = rng.normal(size=4)
    within = rng.normal(scale=0.5, size=(4, 3000))
    a = pool_groups(values, values[:, None] + within).replicates
    b = pool_groups(values + 1.0, values[:, None] + 1.0 + within).replicates
    assert np.allclose(b - a, 1.0)  # the same groups in every replicate: a paired difference is exact
    flat = pool_groups(values, np.repeat(values[:, None], 3000, axis=1)).replicates
    assert a.std() > flat.std()
