"""Board cells that a reviewer would reject, each reproduced with small data: negative limits of non-negative
statistics, a real row with a Student-t over identical copies, ≈ columns that forget the reference's
uncertainty, PRDC density ranked higher-is-better, two datasets averaged as seeds, non-finite replicates
dropped silently, errored seeds counted, and a caption that claims one resampling scheme for every metric."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np

from benchgen.board.build import build_boards
from benchgen.board.render import render_json
from benchgen.functional.bootstrap import interval
from benchgen.functional.prdc import prdc
from tests.core.test_store import make_record


def _rec(gen: str, seed: int, value: float | None, reps: np.ndarray | None = None, metric: str = "m",
         method: str = "percentile", plugin: str | None = None, status: str = "ok", **kw):
    details = dict(kw.pop("details", {}))
    if reps is not None:
        details.update(replicates=[None if not np.isfinite(v) else float(v) for v in reps], ci_method=method)
        ci = interval(value or 0.0, reps, method)  # type: ignore[arg-type]
        lo, hi = ci if ci else (None, None)
    else:
        lo, hi = kw.pop("ci_low", None), kw.pop("ci_high", None)
    base = dict(suite="s", suite_version="1", profile="p", primary_metric=kw.pop("primary", metric), generator=gen,
                generator_plugin=gen, generator_config_hash=f"{gen}h", metric=metric,
                metric_plugin=plugin or metric.split(".")[0].split("[")[0], higher_is_better=kw.pop("hib", False),
                value=value, ci_low=lo, ci_high=hi, n_real=20, n_synthetic=20, seed=seed, details=details,
                status=status)
    base.update(kw)
    return asdict(make_record(f"{gen}-{seed}-{metric}-{kw.get('data_fingerprint', 'd')}", **base))


def test_anatomy_w1_basic_interval_never_goes_below_zero():
    # a stored record of anatomy.w1 from before the plugin recorded its range: reflection gives a negative limit
    rng = np.random.default_rng(0)
    reps = np.abs(rng.normal(0.3, 0.15, 200))
    rec = _rec("g", 0, 0.186, reps, metric="anatomy.w1", method="basic")
    assert interval(0.186, reps, "basic")[0] < 0  # the defect the board must not print
    cell = build_boards([rec])[0].rows[0][2]["anatomy.w1"]
    assert cell.lo is not None and cell.lo >= 0.0 and cell.hi is not None and cell.hi > 0


def test_non_negative_t_interval_over_seeds_is_clipped_too():
    recs = [_rec("g", s, v, metric="anatomy.effect", plugin="anatomy") for s, v in enumerate([0.01, 0.4])]
    cell = build_boards(recs)[0].rows[0][2]["anatomy.effect"]
    assert cell.lo == 0.0 and cell.hi is not None and cell.hi > 0.4


def test_real_row_uses_the_stored_reference_interval_or_none():
    msssim = [_rec("g", s, 0.9, metric="ms-ssim", reference=0.92, details={"reference_ci": [0.90, 0.94]})
              for s in (0, 1)]
    ref = build_boards(msssim)[0].reference["ms-ssim"]
    assert (ref.mean, ref.lo, ref.hi) == (0.92, 0.90, 0.94)
    auth = [_rec("g", s, 48.0, metric="memorization.authpct", reference=50.0, hib=True) for s in (0, 1)]
    ref = build_boards(auth)[0].reference["memorization.authpct"]
    assert ref.mean == 50.0 and ref.lo is None and ref.hi is None  # no Student-t over identical copies
    assert ref.text() == "50"


def test_closest_columns_keep_the_reference_uncertainty():
    rng = np.random.default_rng(2)
    shared = rng.normal(0, 0.002, 200)
    far = _rec("far", 0, 0.97, 0.97 + shared, metric="ms-ssim", reference=0.90, details={"reference_ci": [0.85, 0.95]})
    near = _rec("near", 0, 0.905, 0.905 + shared, metric="ms-ssim", reference=0.90,
                details={"reference_ci": [0.85, 0.95]})
    board = build_boards([far, near])[0]
    # with the reference as a fixed 0.90, "near" would be better beyond doubt; a reference of 0.95 (inside its
    # own interval) puts "far" closer: the rows are not separated
    assert board.rank_intervals("ms-ssim") == {"far": (1, 2), "near": (1, 2)}
    exact = [_rec(g, 0, v, v + shared, metric="ms-ssim", reference=0.90, details={"reference_ci": [0.899, 0.901]})
             for g, v in (("far", 0.97), ("near", 0.905))]
    assert build_boards(exact)[0].rank_intervals("ms-ssim") == {"near": (1, 1), "far": (2, 2)}


def test_prdc_density_is_ranked_by_closeness_to_one_not_higher_is_better():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, 200)
    recs = [_rec(g, 0, v, v + noise, metric="prdc.density", plugin="prdc", hib=True)
            for g, v in (("copier", 1.22), ("holdout", 0.88))]
    board = build_boards(recs)[0]
    assert board.direction("prdc.density") == "closest"
    assert board.rank_intervals("prdc.density") == {"holdout": (1, 1), "copier": (2, 2)}
    assert board.rows[0][0] == "holdout"


def test_prdc_density_of_two_samples_of_one_distribution_is_near_one():
    # the target the board uses: density's expectation when synthetic and real come from one distribution
    rng = np.random.default_rng(4)
    vals = [prdc(rng.normal(size=(60, 8)), rng.normal(size=(48, 8)), 5)["density"] for _ in range(200)]
    assert abs(np.mean(vals) - 1.0) < 0.05


def test_two_datasets_are_never_averaged_as_seeds():
    recs = [_rec("g", 0, 0.93, data_fingerprint="aaaa1111"), _rec("g", 0, 0.70, data_fingerprint="bbbb2222")]
    boards = build_boards(recs)
    assert len(boards) == 2
    assert sorted(b.rows[0][2]["m"].mean for b in boards) == [0.70, 0.93]
    assert all("data " in b.title() for b in boards)  # the two boards say which dataset each is


def test_non_finite_replicates_are_counted_and_reported():
    reps = np.linspace(0.4, 0.6, 200)
    reps[:7] = np.nan
    board = build_boards([_rec("g", 0, 0.5, reps)])[0]
    cell = board.rows[0][2]["m"]
    assert cell.nonfinite == 7
    assert "7 of 200" in board.caption()
    flat = json.loads(render_json([board]))["cells"][0]
    assert flat["nonfinite_replicates"] == 7


def test_an_errored_seed_is_not_counted_in_the_seeds_column():
    recs = [_rec("g", 0, 0.5), _rec("g", 1, None, status="error", message="boom")]
    board = build_boards(recs)[0]
    info, cell = board.rows[0][1], board.rows[0][2]["m"]
    assert info["seeds"] == [0] and cell.n == 1
    assert board.seeds() == "1"


def test_the_caption_says_which_sources_each_interval_resamples():
    recs = [_rec("g", 0, 0.1, np.linspace(0, 0.2, 50), metric="utility", hib=True, primary="mmd"),
            _rec("g", 0, 0.5, np.linspace(0.4, 0.6, 50), metric="mmd", primary="mmd"),
            _rec("g", 0, 0.9, np.linspace(0.85, 0.95, 50), metric="ms-ssim", primary="mmd")]
    caption = build_boards(recs)[0].caption()
    assert "bootstrap over real subjects and samples" not in caption.replace("mmd: bootstrap over real", "")
    assert "mmd: bootstrap over real subjects and samples" in caption
    assert "utility: bootstrap over classifier refits on resampled training and synthetic sets, then real test subjects" \
        in caption
    assert "ms-ssim: bootstrap over synthetic samples" in caption
