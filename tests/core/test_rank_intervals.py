"""Significance-aware ranking: paired bootstrap replicates, pooled over seeds, give rank intervals; rows of
one distribution are never put in a strict order; a clearly worse row is separated."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from benchgen.board.build import build_boards
from benchgen.board.render import render_json, render_markdown
from benchgen.functional.bootstrap import bootstrap_replicates
from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.test_store import make_record
from tests.suites import tiny_suite


def _rec(gen: str, seed: int, value: float, reps: np.ndarray | None, metric: str = "m", **kw):
    lo, hi = (float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))) if reps is not None else (None, None)
    details = {"replicates": reps.tolist(), "ci_method": "percentile"} if reps is not None else {}
    return asdict(make_record(f"{gen}-{seed}-{metric}", suite="s", suite_version="1", profile="p", primary_metric="m",
                              generator=gen, generator_plugin=gen, generator_config_hash=f"{gen}h", metric=metric,
                              metric_plugin=metric, higher_is_better=False, value=value, ci_low=lo, ci_high=hi,
                              n_real=5, n_synthetic=5, seed=seed, details=details, **kw))


def test_real_set_resamples_are_shared_by_every_seed_synthetic_ones_are_not():
    seen: dict[int, list[np.ndarray]] = {}
    for seed in (0, 1):
        got: list = []
        bootstrap_replicates(lambda i, j, got=got: got.append((i, j)) or 0.0, [7, 5], 4, seed, ["real", "synthetic"])
        seen[seed] = got
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(seen[0], seen[1]))  # paired on real subjects
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(seen[0], seen[1]))


def test_cells_pool_replicates_over_seeds():
    rng = np.random.default_rng(0)
    r0, r1 = rng.normal(1.0, 0.1, 200), rng.normal(1.2, 0.1, 200)
    board = build_boards([_rec("a", 0, 1.0, r0), _rec("a", 1, 1.2, r1)])[0]
    cell = board.rows[0][2]["m"]
    pooled = (r0 + r1) / 2
    assert cell.mean == 1.1 and np.allclose(cell.replicates, pooled)
    assert (cell.lo, cell.hi) == tuple(np.quantile(pooled, [0.025, 0.975]))


def test_paired_rows_of_one_distribution_share_ranks_and_a_worse_row_is_separated():
    rng = np.random.default_rng(1)
    shared = rng.normal(0.0, 1.0, 200)  # the real set's resampling noise, common to every row
    same_a = 0.5 + shared + rng.normal(0, 0.05, 200)
    same_b = 0.52 + shared + rng.normal(0, 0.05, 200)
    worse = 0.9 + shared + rng.normal(0, 0.05, 200)  # overlapping marginal intervals, but worse on every pairing
    board = build_boards([_rec("a", 0, 0.5, same_a), _rec("b", 0, 0.52, same_b), _rec("w", 0, 0.9, worse)])[0]
    ranks = board.rank_intervals("m")
    assert ranks == {"a": (1, 2), "b": (1, 2), "w": (3, 3)}
    cells = {g: c for g, _, c in board.rows}
    assert cells["w"]["m"].lo < cells["a"]["m"].hi  # the marginal intervals overlap: pairing is what separates
    assert board.ranks() == ["1–2", "1–2", "3"]
    assert "#1–2" in render_markdown([board]) and "#3" in render_markdown([board])


def test_without_replicates_only_disjoint_intervals_separate():
    recs = [_rec(g, 0, v, None) for g, v in (("a", 1.0), ("b", 1.1), ("c", 5.0))]
    for r, (lo, hi) in zip(recs, ((0.5, 1.5), (0.6, 1.6), (4.0, 6.0))):
        r.update(ci_low=lo, ci_high=hi)
    board = build_boards(recs)[0]
    assert board.rank_intervals("m") == {"a": (1, 2), "b": (1, 2), "c": (3, 3)}
    recs[0].update(ci_low=None, ci_high=None)  # no interval at all: nothing can be claimed about it
    assert build_boards(recs)[0].rank_intervals("m")["a"] == (1, 3)


def test_json_gives_rank_and_rank_ci_per_metric():
    rng = np.random.default_rng(2)
    recs = [_rec("a", 0, 0.1, 0.1 + rng.normal(0, 0.01, 50)), _rec("b", 0, 3.0, 3.0 + rng.normal(0, 0.01, 50)),
            _rec("a", 0, 9.0, 9.0 + rng.normal(0, 1, 50), metric="x"),
            _rec("b", 0, 8.0, 8.0 + rng.normal(0, 1, 50), metric="x")]
    cells = json.loads(render_json(build_boards(recs)))["cells"]
    got = {(c["generator"], c["metric"]): (c["rank"], c["rank_ci"], c["board_rank"]) for c in cells}
    assert got[("a", "m")] == (1, [1, 1], 1) and got[("b", "m")] == (2, [2, 2], 2)
    assert got[("b", "x")] == (1, [1, 2], 2) and got[("a", "x")] == (2, [1, 2], 1)


SUITE = tiny_suite("ranks", suite={"primary_metric": "mmd"},
                   dataset={"split": {"train": 0.4, "val": 0.3, "test": 0.3},
                            "params": {"n_subjects": 40, "voxel_mm": 6.0}},
                   generators={"holdout": {}, "holdout-copy": {"plugin": "holdout"}, "noise": {}},
                   evaluation={"n_samples": 10, "seeds": [0, 1], "bootstrap": 100},
                   metrics={"mmd": {}, "kid": {"params": {"subsets": 10}},
                            "ms-ssim": {"params": {"kernel_size": 3, "scales": 1}}})



def test_two_copies_of_holdout_overlap_on_every_metric_and_noise_is_separated(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    (tmp_path / "suite.toml").write_text(SUITE)
    db = tmp_path / "r.sqlite"
    summary = run_suite(load_suite(tmp_path / "suite.toml", "default"), db, quiet=True, save_samples=False)
    assert summary.ok, summary.errors
    store = ResultStore(db, readonly=True)
    board = build_boards(store.records())[0]
    store.close()
    for column in board.columns:
        ranks = board.rank_intervals(column)
        a, b = ranks["holdout"], ranks["holdout-copy"]
        assert a[0] <= b[1] and b[0] <= a[1], (column, ranks)  # overlapping: no order claimed between them
    for column in ("mmd", "kid"):
        ranks = board.rank_intervals(column)
        assert ranks["noise"] == (3, 3) and ranks["holdout"][1] <= 2, (column, ranks)
