import numpy as np
import pytest

from benchgen.functional.memorization import memorization_share, nearest_neighbours

from .conftest import make_brains


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(5, 30)), rng.normal(size=(9, 30))
    d, idx = nearest_neighbours(x, t, chunk=7)
    ref = np.linalg.norm(x[:, None] - t[None], axis=2)
    np.testing.assert_allclose(d, ref.min(1), rtol=1e-9)
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
