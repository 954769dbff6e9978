import numpy as np
import pytest
from benchgen_metrics.features.radiomics import (
    DIRECTIONS_3D,
    RadiomicsFeatures,
    feature_names,
    glcm,
    glcm_features,
    quantize,
    radiomic_features,
)
from scipy import stats
from skimage.feature import graycomatrix, graycoprops

from .conftest import make_brains


def brute_glcm(levels, mask, offset, bins):
    counts = np.zeros((bins, bins))
    dz, dy, dx = offset
    D, H, W = levels.shape
    for z in range(D):
        for y in range(H):
            for x in range(W):
                z2, y2, x2 = z + dz, y + dy, x + dx
                if 0 <= z2 < D and 0 <= y2 < H and 0 <= x2 < W and mask[z, y, x] and mask[z2, y2, x2]:
                    counts[levels[z, y, x], levels[z2, y2, x2]] += 1
    p = counts + counts.T
    return p / p.sum()


def test_thirteen_unique_directions():
    assert len(DIRECTIONS_3D) == 13
    assert len({tuple(-np.array(d)) for d in DIRECTIONS_3D} & set(DIRECTIONS_3D)) == 0


def test_glcm_matches_brute_force_in_all_13_directions():
    vol = make_brains(1, (6, 7, 8), seed=0)[0]
    levels, mask = quantize(vol, 8), vol > 0.05
    for d in DIRECTIONS_3D:
        np.testing.assert_allclose(glcm(levels, mask, d, 8), brute_glcm(levels, mask, d, 8), atol=1e-12)


@pytest.mark.parametrize("offset,angle", [((0, 0, 1), 0.0), ((0, 1, 0), np.pi / 2)])
def test_glcm_and_props_match_skimage(offset, angle):
    vol = make_brains(1, (5, 12, 14), seed=1)[0] * 0.9 + 0.05
    levels = quantize(vol, 16)
    mask = np.ones_like(levels, dtype=bool)
    counts = sum(graycomatrix(levels[z].astype(np.uint8), [1], [angle], levels=16, symmetric=True)[:, :, 0, 0]
                 for z in range(levels.shape[0])).astype(np.float64)
    ref = counts / counts.sum()
    ours = glcm(levels, mask, offset, 16)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    feats = glcm_features(ours)
    sk = ref[:, :, None, None]
    for ours_name, sk_name in [("contrast", "contrast"), ("dissimilarity", "dissimilarity"),
                               ("homogeneity", "homogeneity"), ("ASM", "ASM"), ("correlation", "correlation")]:
        assert feats[ours_name] == pytest.approx(float(graycoprops(sk, sk_name)[0, 0]), rel=1e-9), ours_name


def test_first_order_subset_matches_scipy():
    vol = make_brains(1, (16, 24, 16), seed=2)[0]
    f = dict(zip(feature_names(), radiomic_features(vol)))
    inside = vol[vol > 0.05].astype(np.float64)
    assert f["firstorder_mean"] == pytest.approx(inside.mean(), rel=1e-9)
    assert f["firstorder_skewness"] == pytest.approx(stats.skew(inside), rel=1e-9)
    assert f["firstorder_kurtosis"] == pytest.approx(stats.kurtosis(inside), rel=1e-9)
    assert f["firstorder_p90"] == pytest.approx(np.percentile(inside, 90), rel=1e-9)
    assert f["firstorder_mask_fraction"] == pytest.approx((vol > 0.05).mean())


def test_extractor_is_deterministic_and_sensitive():
    vols = make_brains(3, (16, 24, 16), seed=3)
    ext = RadiomicsFeatures()
    a, b = ext.extract(vols), ext.extract(vols)
    assert a.shape == (3, len(ext.names())) and np.array_equal(a, b) and np.isfinite(a).all()
    noisy = np.clip(vols + np.random.default_rng(0).normal(0, 0.1, vols.shape), 0, 1).astype(np.float32)
    names = ext.names()
    c = ext.extract(noisy)
    i = names.index("glcm_contrast")
    assert (c[:, i] > a[:, i]).all()  # noise raises grey-level contrast


def test_empty_mask_falls_back_to_the_whole_volume():
    f = radiomic_features(np.zeros((8, 8, 8), np.float32))
    assert np.isfinite(f).all()
