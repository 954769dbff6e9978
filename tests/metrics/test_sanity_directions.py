"""The metric sanity suite's expected directions, on controlled degradations of held-out scans.

More noise or blur -> worse MMD, Fréchet (FRD) and KID scores; an intensity shift -> worse; mode collapse ->
higher MS-SSIM and lower recall / coverage; copies and near-copies of training scans (translated by 1 or 2
voxels per axis, intensities ×0.9, 5 % noise) -> memorization flags them; fresh scans (held-out, also
translated) are flagged at about the held-out rate.
"""

import numpy as np
import pytest
from benchgen_baselines.degraded import Degraded, degrade, degrade_set, translate

from benchgen import registry
from benchgen.interfaces import FitContext, MetricContext

from .conftest import cohort, make_brains

N = 24


@pytest.fixture(scope="module")
def data():
    return {"train": make_brains(30, seed=100), "val": make_brains(N, seed=101), "test": make_brains(N, seed=102)}


@pytest.fixture(scope="module")
def scores(data, tmp_path_factory):
    ctx = MetricContext(seed=0, cache_dir=tmp_path_factory.mktemp("features"), real_fingerprint="test-set")
    real, train = cohort(data["test"], "test"), cohort(data["train"], "train")
    metrics = {"mmd": registry.create("metrics", "mmd", {"bootstrap": 0}),
               "frd": registry.create("metrics", "frd", {"bootstrap": 0}),
               "kid": registry.create("metrics", "kid", {"bootstrap": 0}),
               "ms-ssim": registry.create("metrics", "ms-ssim", {"kernel_size": 3, "scales": 3, "bootstrap": 0}),
               "prdc": registry.create("metrics", "prdc", {"k": 5, "bootstrap": 0}),
               "memorization": registry.create("metrics", "memorization", {"bootstrap": 0})}
    variants = {"none": ("none", 0.0), "noise-low": ("noise", 0.02), "noise-mid": ("noise", 0.05),
                "noise-high": ("noise", 0.1), "blur-low": ("blur", 0.5), "blur-mid": ("blur", 1.0),
                "blur-high": ("blur", 2.0), "shift": ("shift", 0.1), "collapse": ("collapse", 0.0),
                "copies": ("copies", 0.0)}
    out = {}
    for label, (kind, level) in variants.items():
        src = data["train"] if kind == "copies" else data["val"]
        syn = cohort(degrade_set(src, kind, level, N, seed=0), label)
        row = {}
        for name, m in metrics.items():
            res = m.score(syn, real, train, ctx)
            if isinstance(res, dict):
                row.update({f"{name}.{k}": r.value for k, r in res.items()})
            else:
                row[name] = res.value
        out[label] = row
    return out


NEAR_COPIES = {"copies": ("copies", 0.0, "train"), "copies-t1": ("translate", 1, "train"),
               "copies-t2": ("translate", 2, "train"), "copies-scale": ("scale", 0.9, "train"),
               "copies-noise": ("copies", 0.05, "train")}
FRESH = {"none": ("none", 0.0, "val"), "fresh-t2": ("translate", 2, "val")}


@pytest.fixture(scope="module")
def memorization_scores(data, tmp_path_factory):
    """(method -> label -> memorization.copies) for near-copies and fresh samples, via the degraded generator."""
    real, train, val = cohort(data["test"], "test"), cohort(data["train"], "train"), cohort(data["val"], "val")
    ctx = MetricContext(seed=0, real_fingerprint="test-set")
    out: dict[str, dict[str, float]] = {}
    for method in ("ncc-shift", "l2"):
        m = registry.create("metrics", "memorization", {"bootstrap": 0, "method": method})
        row = {}
        for label, (kind, level, source) in {**NEAR_COPIES, **FRESH}.items():
            g = registry.create("generators", "degraded", {"kind": kind, "level": level, "source": source})
            g.fit(train, FitContext(workdir=tmp_path_factory.mktemp("g"), val=val))
            res = m.score(cohort(g.sample(N, seed=0).numpy()[:, 0], label), real, train, ctx)
            row[label] = res["copies"].value
        out[method] = row
    return out


@pytest.mark.parametrize("metric", ["mmd", "frd", "kid"])
@pytest.mark.parametrize("family", ["noise", "blur"])
def test_more_degradation_is_worse(scores, metric, family):
    seq = [scores[k][metric] for k in ("none", f"{family}-low", f"{family}-mid", f"{family}-high")]
    assert all(a < b for a, b in zip(seq, seq[1:])), seq


def test_shift_is_worse(scores):
    assert scores["shift"]["mmd"] > scores["none"]["mmd"] + 1.0
    assert scores["shift"]["frd"] > 2 * scores["none"]["frd"]
    assert scores["shift"]["kid"] > scores["none"]["kid"] + 1.0


def test_collapse_raises_msssim_and_lowers_recall_and_coverage(scores):
    assert scores["collapse"]["ms-ssim"] > scores["none"]["ms-ssim"] + 0.2
    assert scores["collapse"]["prdc.recall"] < scores["none"]["prdc.recall"]
    assert scores["collapse"]["prdc.coverage"] < scores["none"]["prdc.coverage"]


def test_copies_are_flagged_and_holdout_is_not(scores):
    assert scores["copies"]["memorization.copies"] == 1.0
    assert scores["none"]["memorization.copies"] <= 0.15
    assert scores["copies"]["memorization.authpct"] == 0.0
    assert scores["none"]["memorization.authpct"] >= 50.0


@pytest.mark.parametrize("label", list(NEAR_COPIES))
def test_near_copies_are_flagged(memorization_scores, label):
    assert memorization_scores["ncc-shift"][label] >= 0.9, memorization_scores["ncc-shift"]


@pytest.mark.parametrize("label", list(FRESH))
def test_fresh_samples_are_flagged_at_the_held_out_rate(memorization_scores, label):
    assert memorization_scores["ncc-shift"][label] <= 0.2, memorization_scores["ncc-shift"]
    assert memorization_scores["l2"][label] <= 0.2, memorization_scores["l2"]


def test_l2_detector_misses_translated_copies(memorization_scores):
    """Why ncc-shift is the default: Euclidean distance does not see a copy moved by one voxel."""
    l2 = memorization_scores["l2"]
    assert l2["copies"] == 1.0 and l2["copies-t1"] < 0.5 and l2["copies-t2"] < 0.5, l2


def test_degrade_functions():
    rng = np.random.default_rng(0)
    v = make_brains(1, seed=0)[0]
    assert np.array_equal(degrade(v, "none", 0.3, rng), v)
    noisy = degrade(v, "noise", 0.1, rng)
    assert noisy.min() >= 0 and noisy.max() <= 1 and 0.03 < np.abs(noisy - v).mean() < 0.1
    blurred = degrade(v, "blur", 1.0, rng)
    assert np.abs(np.diff(blurred, axis=0)).mean() < np.abs(np.diff(v, axis=0)).mean()
    shifted = degrade(v, "shift", 0.1, rng)
    assert np.array_equal(shifted[v == 0], v[v == 0]) and shifted[v > 0].mean() > v[v > 0].mean() + 0.05
    coll = degrade_set(make_brains(5), "collapse", 0.0, 4, seed=1)
    assert all(np.array_equal(coll[0], c) for c in coll)
    a, b = degrade_set(make_brains(5), "noise", 0.1, 7, 3), degrade_set(make_brains(5), "noise", 0.1, 7, 3)
    assert np.array_equal(a, b) and a.shape == (7, 16, 24, 16)
    moved = degrade(v, "translate", 2, np.random.default_rng(0))
    offset = [2 if np.array_equal(moved, translate(v, (sz, sy, sx))) else 0
              for sz in (-2, 2) for sy in (-2, 2) for sx in (-2, 2)]
    assert sum(offset) == 2  # exactly one of the 8 sign patterns of (±2, ±2, ±2)
    assert np.array_equal(translate(v, (1, 0, 0))[1:], v[:-1]) and not translate(v, (1, 0, 0))[0].any()
    assert np.allclose(degrade(v, "scale", 0.9, rng), v * 0.9)


def test_generator_fit_sample_save_load(tmp_path):
    train, val = cohort(make_brains(6, seed=1)), cohort(make_brains(4, seed=2))
    g = registry.create("generators", "degraded", {"kind": "copies", "level": 0.0})
    g.fit(train, FitContext(workdir=tmp_path, val=val))
    s = g.sample(3, seed=0)
    assert s.shape == (3, 1, 16, 24, 16) and any(np.array_equal(s[0, 0].numpy(), t) for t in train.numpy())
    g.save(tmp_path / "ckpt")
    h = Degraded(Degraded.Params(kind="copies"))
    h.load(tmp_path / "ckpt")
    assert np.array_equal(h.sample(3, seed=0).numpy(), s.numpy())
    v = registry.create("generators", "degraded", {"kind": "blur", "level": 1.0})
    v.fit(train, FitContext(workdir=tmp_path, val=val))
    assert not any(np.array_equal(v.sample(2, 0)[0, 0].numpy(), t) for t in train.numpy())
    near = registry.create("generators", "degraded", {"kind": "scale", "level": 0.9, "source": "train"})
    near.fit(train, FitContext(workdir=tmp_path, val=val))
    assert any(np.allclose(near.sample(2, 0)[0, 0].numpy(), t * 0.9) for t in train.numpy())
