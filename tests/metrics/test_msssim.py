import numpy as np
import pytest
import torch
from monai.metrics import MultiScaleSSIMMetric

from benchgen.functional.msssim import (
    check_kernel_fits,
    max_kernel,
    ms_ssim_pair,
    ms_ssim_within,
    msssim_weights,
    sample_pairs,
)

from .conftest import make_brains

# Measured (docs/metrics.md): max |ours - MONAI| 3.5e-7 vs MONAI on float32, 4.3e-7 vs MONAI on float64 inputs
# over these cases (2.6e-7 on three 84×128×84 pairs); the tests allow 2e-6.
TOL = 2e-6


def monai_pairs(vols, kernel_size, scales, sigma=1.5, data_range=1.0):
    m = MultiScaleSSIMMetric(spatial_dims=3, data_range=data_range, kernel_size=kernel_size,
                             kernel_sigma=sigma, weights=msssim_weights(scales))
    n = len(vols)
    return np.array([float(m(vols[i:i + 1], vols[j:j + 1])) for i in range(n) for j in range(i + 1, n)])


@pytest.mark.parametrize("shape,kernel_size,scales", [((16, 24, 16), 3, 3), ((16, 24, 16), 4, 3),
                                                      ((32, 36, 34), 2, 5), ((20, 22, 18), 5, 2)])
def test_equals_monai_per_pair(shape, kernel_size, scales):
    vols = torch.from_numpy(make_brains(5, shape, seed=1))[:, None]
    ref = monai_pairs(vols, kernel_size, scales)
    ours = ms_ssim_within(vols, kernel_size=kernel_size, scales=scales)
    np.testing.assert_allclose(ours, ref, atol=TOL)
    np.testing.assert_allclose(ours, monai_pairs(vols.double(), kernel_size, scales), atol=TOL)  # MONAI in float64
    assert ours.std() > 1e-3  # distinct pairs, distinct values


def test_data_range_and_sigma_passed_through():
    vols = torch.from_numpy(make_brains(3, (16, 24, 16), seed=2))[:, None] * 2.0
    ref = monai_pairs(vols, 3, 3, sigma=0.8, data_range=2.0)
    ours = ms_ssim_within(vols, data_range=2.0, kernel_size=3, kernel_sigma=0.8, scales=3)
    np.testing.assert_allclose(ours, ref, atol=TOL)


def test_identical_volumes_give_one_and_pair_function_agrees():
    v = make_brains(2, (16, 24, 16), seed=3)
    assert ms_ssim_pair(v[0], v[0], kernel_size=3, scales=3) == pytest.approx(1.0, abs=1e-5)
    within = ms_ssim_within(v, kernel_size=3, scales=3)[0]
    assert ms_ssim_pair(v[0], v[1], kernel_size=3, scales=3) == pytest.approx(within, abs=1e-7)


def test_blocks_within_a_memory_budget_give_the_same_numbers():
    vols = make_brains(7, (16, 24, 16), seed=4)
    full = ms_ssim_within(vols, kernel_size=3, scales=3)
    tiny = ms_ssim_within(vols, kernel_size=3, scales=3, max_memory_gb=1e-4, batch=2)  # 1 volume per block
    np.testing.assert_allclose(tiny, full, atol=1e-7)


def test_pair_subset_is_seeded_and_consistent():
    vols = make_brains(6, (16, 24, 16), seed=5)
    pairs = sample_pairs(6, 5, seed=7)
    assert len(pairs) == 5 and np.array_equal(pairs, sample_pairs(6, 5, seed=7))
    assert len({tuple(p) for p in pairs}) == 5 and (pairs[:, 0] < pairs[:, 1]).all()
    full = ms_ssim_within(vols, kernel_size=3, scales=3)
    sub = ms_ssim_within(vols, kernel_size=3, scales=3, pairs=pairs)
    lookup = {tuple(p): v for p, v in zip(sample_pairs(6, None, 0), full)}
    np.testing.assert_allclose(sub, [lookup[tuple(p)] for p in pairs], atol=1e-7)


def test_kernel_size_check_names_what_fits():
    assert max_kernel((84, 128, 84), 5) == 5
    assert max_kernel((16, 24, 16), 3) == 4
    check_kernel_fits((84, 128, 84), 5, 5)
    with pytest.raises(ValueError, match=r"kernel_size 6 with 5 scales needs every side >= 96.*84×128×84"):
        check_kernel_fits((84, 128, 84), 6, 5)
    with pytest.raises(ValueError, match="kernel_size <= 4 with scales=3"):
        ms_ssim_within(make_brains(2, (16, 24, 16)), kernel_size=11, scales=5)


def test_weights_renormalised():
    w = msssim_weights(3)
    assert sum(w) == pytest.approx(1.0)
    assert w[0] / w[1] == pytest.approx(0.0448 / 0.2856)
    assert msssim_weights(5) == (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
