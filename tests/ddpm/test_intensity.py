import pytest
import torch
from benchgen_ddpm.intensity import decode, encode
from benchgen_ddpm.params import DDPMParams

from benchgen.errors import ConfigError
from benchgen.params import parse_params


def _volume() -> torch.Tensor:
    x = torch.rand(2, 1, 6, 8, 6)
    x[..., :2] = 0.0  # an exact-zero background slab
    return x


@pytest.mark.parametrize("gap", [0.0, 0.3])
def test_decode_inverts_encode_and_range_is_minus_one_to_one(gap):
    x = _volume()
    y = encode(x, gap)
    assert float(y.min()) >= -1.0 and float(y.max()) <= 1.0
    assert torch.allclose(decode(y, gap), x, atol=1e-6)


def test_plain_map_is_the_affine_one():
    x = _volume()
    assert torch.equal(encode(x, 0.0), x * 2 - 1)
    assert torch.allclose(decode(torch.tensor([-1.2, -1.0, 0.0, 1.0, 1.3]), 0.0),
                          torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))


def test_gap_separates_background_from_tissue():
    gap = 0.3
    x = torch.tensor([0.0, 1e-6, 0.5, 1.0])
    y = encode(x, gap)
    assert y[0] == -1.0 and y[1] == pytest.approx(-1 + gap, abs=1e-5) and y[3] == 1.0
    # background errors smaller than the gap decode to exactly 0; a tissue value keeps its level
    noisy = torch.tensor([-1.0, -1.0 + 0.5 * gap, -1.0 + 0.99 * gap, float(y[2])])
    out = decode(noisy, gap)
    assert out[:3].eq(0).all() and out[3] == pytest.approx(0.5, abs=1e-6)


def test_gap_out_of_range_is_a_config_error():
    with pytest.raises(ConfigError, match="background_gap must be in"):
        parse_params(DDPMParams, {"background_gap": 1.0}, "generators.ddpm.params")


def test_brain_shape_scores_match_scipy_and_count_background(tiny_train, tiny_val):
    """The two brain-shape measures of issue 3, against scipy's Pearson r and a hand count."""
    import numpy as np
    from benchgen_ddpm.testing import brain_shape_scores
    from scipy.stats import pearsonr

    real, samples = tiny_train.numpy(), tiny_val.numpy().copy()
    background = (real <= 0).all(0)
    samples[0][background] = 0.01  # a faint haze everywhere outside the brain
    s = brain_shape_scores(samples, real)
    for got, vol in zip(s["corr"], samples):
        assert got == pytest.approx(pearsonr(vol.ravel(), real.mean(0).ravel())[0], abs=1e-6)
    assert background.any() and s["background_frac"][0] == 1.0
    assert s["background_frac"][1] == pytest.approx(float((samples[1][background] > 0).mean()))
    assert np.all(s["tissue_frac"] > 0.9)  # MNI-derived brains fill the common brain core
    assert brain_shape_scores(real, real)["clear_tissue_zero"].max() == 0.0
    blank = brain_shape_scores(np.zeros_like(samples), real)
    assert blank["tissue_frac"].max() == 0.0 and blank["clear_tissue_zero"].min() == 1.0
    assert blank["dark_core_frac"].min() == 1.0
