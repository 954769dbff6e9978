import itertools

import numpy as np
import pytest
from benchgen_baselines.degraded import translate

from benchgen import registry
from benchgen.errors import MetricError
from benchgen.functional.memorization import (
    authenticity,
    authpct,
    brain_mask,
    memorization_share,
    ncc_shift_search,
    nearest_neighbours,
    pairwise_distances,
)
from benchgen.interfaces import MetricContext

from .conftest import cohort, make_brains


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(5, 30)), rng.normal(size=(9, 30))
    d, idx = nearest_neighbours(x, t, chunk=7)
    ref = np.linalg.norm(x[:, None] - t[None], axis=2)
    np.testing.assert_allclose(d, ref.min(1), rtol=1e-9)
    np.testing.assert_allclose(pairwise_distances(x, t, chunk=4), ref, rtol=1e-9)
    assert np.array_equal(idx, ref.argmin(1))


def test_copies_flagged_and_fresh_samples_not():
    train = make_brains(20, seed=0)
    held_out = make_brains(10, seed=1)
    fresh = make_brains(10, seed=2)
    d_real, _ = nearest_neighbours(held_out, train)
    d_copies, idx = nearest_neighbours(train[[3, 5, 7]], train)
    share, flags, thr = memorization_share(d_copies, d_real)
    assert share == 1.0 and flags.all() and thr == pytest.approx(d_real.min())
    assert np.array_equal(idx, [3, 5, 7])
    d_fresh, _ = nearest_neighbours(fresh, train)
    assert memorization_share(d_fresh, d_real)[0] <= 0.2


def brute_ncc(x, t, max_shift, mask):
    """Max NCC over shifts, written out: for every shift, the overlap box, mask voxels in it, np.corrcoef."""
    best, arg, arg_s = -np.inf, -1, None
    shape = x.shape
    for s in itertools.product(range(-max_shift, max_shift + 1), repeat=3):
        q = tuple(slice(max(0, a), n + min(0, a)) for a, n in zip(s, shape))  # query read at v + s
        r = tuple(slice(max(0, -a), n + min(0, -a)) for a, n in zip(s, shape))
        m = mask[r]
        for j in range(len(t)):
            c = np.corrcoef(x[q][m].astype(np.float64), t[j][r][m].astype(np.float64))[0, 1]
            if c > best + 1e-12:
                best, arg, arg_s = c, j, s
    return best, arg, arg_s


def test_ncc_shift_search_matches_brute_force():
    rng = np.random.default_rng(3)
    train = make_brains(4, (8, 10, 9), seed=4)
    queries = np.stack([translate(train[1], (1, -1, 0)) * 0.8 + 0.01 * rng.normal(size=train[1].shape),
                        make_brains(1, (8, 10, 9), seed=9)[0],
                        translate(train[3], (0, 2, -2))]).astype(np.float32)
    mask = brain_mask(train).numpy()
    best, idx, sh = ncc_shift_search(queries, train, max_shift=2, mask=mask)
    for i, q in enumerate(queries):
        ref, ref_idx, ref_s = brute_ncc(q, train, 2, mask)
        assert best[i] == pytest.approx(ref, abs=1e-9)
        assert idx[i] == ref_idx and tuple(sh[i]) == ref_s
    assert (idx[0], tuple(sh[0])) == (1, (1, -1, 0)) and best[0] > 0.99
    assert (idx[2], tuple(sh[2])) == (3, (0, 2, -2)) and best[2] == pytest.approx(1.0, abs=1e-9)
    # blocks of one volume give the same numbers
    again = ncc_shift_search(queries, train, max_shift=2, mask=mask, max_block_bytes=1)
    np.testing.assert_allclose(again[0], best, atol=1e-12)
    assert np.array_equal(again[1], idx)


def test_ncc_is_invariant_to_intensity_scale_and_offset():
    train = make_brains(3, seed=5)
    best, idx, _ = ncc_shift_search(np.stack([train[2] * 0.9, train[0] * 0.5 + 0.2]), train, max_shift=1,
                                    mask=np.ones(train.shape[1:], bool))
    np.testing.assert_allclose(best, 1.0, atol=1e-9)
    assert list(idx) == [2, 0]


def test_ncc_shift_search_checks_sizes():
    with pytest.raises(ValueError, match="too large"):
        ncc_shift_search(make_brains(2, (4, 6, 6)), make_brains(2, (4, 6, 6)), max_shift=2)
    with pytest.raises(ValueError, match="sizes differ"):
        ncc_shift_search(make_brains(2, (8, 8, 8)), make_brains(2, (8, 8, 10)))


def brute_authpct(gen, train):
    """Alaa et al. (2022) as dgm-eval's compute_authpct, with explicit loops: authentic iff the nearest training
    point's own nearest (other) training neighbour is strictly closer to it than the synthetic sample is."""
    dist = lambda a, b: float(np.sqrt(np.sum((a - b) ** 2)))  # noqa: E731
    authentic = 0
    for g in gen:
        d1 = [dist(g, t) for t in train]
        j = int(np.argmin(d1))
        d2 = min(dist(train[j], train[k]) for k in range(len(train)) if k != j)
        authentic += d2 < d1[j]
    return 100.0 * authentic / len(gen)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_authpct_matches_brute_force_loop(seed):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(25, 6))
    gen = np.concatenate([rng.normal(size=(15, 6)), train[:5] + 0.01 * rng.normal(size=(5, 6))])
    ours = authpct(pairwise_distances(gen, train), pairwise_distances(train, train))
    assert ours == pytest.approx(brute_authpct(gen, train), abs=1e-12)
    assert 0 < ours < 100
    flags = authenticity(pairwise_distances(gen, train), pairwise_distances(train, train))
    assert not flags[-5:].any()  # the five near-copies are inauthentic


def test_authpct_of_copies_is_zero():
    train = make_brains(8, seed=3).reshape(8, -1)
    assert authpct(pairwise_distances(train[:4], train), pairwise_distances(train, train)) == 0.0


@pytest.fixture(scope="module")
def sets():
    return (cohort(make_brains(10, seed=20), "real"), cohort(make_brains(8, seed=21), "syn"),
            cohort(make_brains(14, seed=22), "train"))


def test_plugin_two_results_and_authpct_against_brute_force(sets):
    real, syn, train = sets
    res = registry.create("metrics", "memorization", {"bootstrap": 20}).score(syn, real, train, MetricContext())
    assert set(res) == {"copies", "authpct"}
    assert res["copies"].higher_is_better is False and res["authpct"].higher_is_better is True
    flat = lambda c: c.numpy().reshape(len(c), -1).astype(np.float64)  # noqa: E731
    assert res["authpct"].value == pytest.approx(brute_authpct(flat(syn), flat(train)), abs=1e-9)
    assert res["authpct"].reference == pytest.approx(brute_authpct(flat(real), flat(train)), abs=1e-9)
    assert res["authpct"].ci[0] <= res["authpct"].value <= res["authpct"].ci[1]
    assert res["copies"].details["method"] == "ncc-shift" and res["copies"].details["max_shift"] == 2


def test_plugin_flags_translated_copies_with_their_shift(sets):
    real, _, train = sets
    moved = cohort(np.stack([translate(train.numpy()[4], (2, -1, 1)), train.numpy()[6] * 0.9]), "near")
    res = registry.create("metrics", "memorization", {"bootstrap": 0}).score(moved, real, train, MetricContext())
    flagged = res["copies"].details["flagged"]
    assert res["copies"].value == 1.0 and [f["train_id"] for f in flagged] == ["train004", "train006"]
    assert flagged[0]["shift"] == [2, -1, 1] and flagged[1]["shift"] == [0, 0, 0]
    l2 = registry.create("metrics", "memorization", {"bootstrap": 0, "method": "l2"}).score(
        moved, real, train, MetricContext())
    assert l2["copies"].value == 0.5  # l2 sees the rescaled copy, not the translated one


def test_shared_subjects_are_an_error_naming_them(sets):
    real, syn, train = sets
    m = registry.create("metrics", "memorization", {"bootstrap": 0})
    leaky = cohort(np.concatenate([real.numpy(), train.numpy()[:2]]), "real")
    leaky.subject_ids[-2:] = ["train000", "train001"]
    with pytest.raises(MetricError, match=r"^memorization: the real \(test\) and training sets share 2 subject\(s\)"
                                          r".*: train000, train001; the threshold would be 0"):
        m.score(syn, leaky, train, MetricContext())
    same_volume = cohort(np.concatenate([real.numpy(), train.numpy()[3:4]]), "other")  # new id, same voxels
    with pytest.raises(MetricError, match="share 1 subject.*: other010"):
        m.score(syn, same_volume, train, MetricContext())
    rescaled = cohort(np.concatenate([real.numpy(), train.numpy()[3:4] * 0.5]), "other")
    with pytest.raises(MetricError, match="other010 match a training scan exactly"):
        m.score(syn, rescaled, train, MetricContext())
    with pytest.raises(MetricError, match="other010 match a training scan exactly"):  # whatever the quantile
        registry.create("metrics", "memorization", {"bootstrap": 0, "quantile": 0.5}).score(
            syn, rescaled, train, MetricContext())


def test_plugin_param_checks():
    from benchgen.errors import ConfigError

    with pytest.raises(ConfigError, match="ncc-shift' compares voxels"):
        registry.create("metrics", "memorization", {"features": "radiomics"})
    with pytest.raises(ConfigError, match="max_shift must be >= 0"):
        registry.create("metrics", "memorization", {"max_shift": -1})
