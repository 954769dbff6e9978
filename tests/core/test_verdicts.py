"""Decisions against a baseline: a truly worse row is called worse, two copies of one generator are not
separated, p-values are Holm-adjusted over every comparison, and the board, JSON and `benchgen compare` say so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchgen.board import significance, verdicts
from benchgen.board.build import build_boards
from benchgen.board.render import render_json, render_markdown
from benchgen.errors import ConfigError
from tests.core.test_board_interval_defects import _rec
from tests.core.test_fit_replicates_board import _fitted


def _board(worse_by: float = 0.3, baseline: str = "base"):
    rng = np.random.default_rng(5)
    shared = rng.normal(0, 0.2, 400)  # test subjects: shared by every row, so they cancel in a paired difference
    recs = (_fitted("base", [1.0, 1.03, 0.98], rng, shared) + _fitted("copy", [1.01, 0.99, 1.02], rng, shared)
            + _fitted("worse", [1.0 + worse_by, 1.02 + worse_by, 0.97 + worse_by], rng, shared))
    board = build_boards(recs)[0]
    board.baseline = baseline
    return board


def test_a_truly_worse_row_is_called_worse_and_a_copy_is_not_separated():
    board = _board()
    found = {v.row: v for v in verdicts.board_verdicts(board, "base")}
    assert found["worse"].word == "worse" and found["worse"].difference == pytest.approx(0.3, abs=0.02)
    assert found["worse"].lo > 0 and found["worse"].p_adjusted < 0.05
    assert found["copy"].word == "not separated" and found["copy"].p_adjusted >= 0.05
    better = {v.row: v for v in verdicts.pair_verdicts(board, "base", "worse")}
    assert better["base"].word == "better" and better["base"].difference < 0


def test_higher_is_better_and_closest_columns_take_the_right_sign():
    rng = np.random.default_rng(6)
    noise = rng.normal(0, 0.005, 300)
    recs = [_rec(g, 0, v, v + noise + rng.normal(0, 0.005, 300), metric="acc", hib=True)
            for g, v in (("base", 0.7), ("high", 0.8))]
    board = build_boards(recs)[0]
    assert {v.row: v.word for v in verdicts.board_verdicts(board, "base")} == {"high": "better"}
    dens = [_rec(g, 0, v, v + noise + rng.normal(0, 0.005, 300), metric="prdc.density", plugin="prdc", hib=True)
            for g, v in (("base", 0.95), ("copier", 1.3))]
    board = build_boards(dens)[0]
    assert {v.row: v.word for v in verdicts.board_verdicts(board, "base")} == {"copier": "worse"}


def test_holm_matches_the_step_down_definition():
    ps = [0.01, 0.04, 0.03, 0.005]
    vs = [verdicts.Verdict("r", "b", f"m{i}", 1.0, 0.5, 1.5, p, word="worse") for i, p in enumerate(ps)]
    verdicts.holm(vs)
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4·0.005, 3·0.01, 2·0.03, 1·0.04, made monotone: 0.02, 0.03, 0.06, 0.06
    assert [v.p_adjusted for v in vs] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [v.word for v in vs] == ["worse", "not separated", "not separated", "worse"]


def test_p_value_is_twice_the_share_of_replicates_beyond_zero():
    d = np.concatenate([np.full(190, 0.2), np.full(10, -0.1)])
    assert significance.p_value(d, 0.2) == pytest.approx(0.1)
    assert significance.p_value(np.full(200, 0.3), 0.3) == 0.0  # clear at the bootstrap's resolution
    assert significance.p_value(np.zeros(200), 0.0) == 1.0


def test_board_markdown_and_json_carry_the_verdicts():
    board = _board()
    md = render_markdown([board])
    assert "#### verdicts vs base" in md and "| copy | not separated |" in md and "| worse | worse |" in md
    head = json.loads(render_json([board]))["boards"][0]
    assert head["baseline"] == "base"
    assert {(v["row"], v["verdict"]) for v in head["verdicts"]} == {("copy", "not separated"), ("worse", "worse")}


def test_unknown_baseline_is_one_clear_error():
    with pytest.raises(ConfigError, match="baseline 'nope'"):
        verdicts.board_verdicts(_board(), "nope")


def test_suite_baseline_and_fits_are_checked_at_load(suite_file, fake_registry):
    from benchgen.suite.load import load_suite
    from tests.core.conftest import SUITE

    ok = load_suite(suite_file(SUITE.replace("bootstrap = 7", 'bootstrap = 7\nbaseline = "good"\nfits = 2')))
    assert ok.baseline == "good" and ok.fits_of("good") == 2 and ok.fits_of("bad") == 2
    one = load_suite(suite_file(SUITE.replace('params = { scale = 0.5 }', 'params = { scale = 0.5 }\nfits = 3')))
    assert one.fits_of("good") == 1 and one.fits_of("bad") == 3 and one.baseline == ""
    with pytest.raises(ConfigError, match="evaluation.baseline: 'nope'"):
        load_suite(suite_file(SUITE.replace("bootstrap = 7", 'bootstrap = 7\nbaseline = "nope"')))
    with pytest.raises(ConfigError, match="evaluation.fits: must be at least 1"):
        load_suite(suite_file(SUITE.replace("bootstrap = 7", "bootstrap = 7\nfits = 0")))
