"""The metric plugins through the registry: values, CIs, caching, and one clear error per bad input."""

import numpy as np
import pytest
import torch

from benchgen import registry
from benchgen.errors import ConfigError, MetricError
from benchgen.functional.frechet import frechet_distance_features
from benchgen.functional.mmd import mmd_linear
from benchgen.interfaces import MetricContext, MetricResult

from .conftest import cohort, make_brains


@pytest.fixture(scope="module")
def sets():
    real = cohort(make_brains(12, seed=10), "real")
    syn = cohort(make_brains(10, seed=11), "syn")
    train = cohort(make_brains(14, seed=12), "train")
    return real, syn, train


def create(name, **params):
    return registry.create("metrics", name, params)


def test_mmd_plugin_value_and_ci(sets):
    real, syn, _ = sets
    res = create("mmd", bootstrap=50).score(syn, real, None, MetricContext(seed=3))
    assert res.value == pytest.approx(mmd_linear(real.data, syn.data), rel=1e-12)
    assert res.ci is not None and res.ci[0] <= res.ci[1] and res.higher_is_better is False
    again = create("mmd", bootstrap=50).score(syn, real, None, MetricContext(seed=3))
    other = create("mmd", bootstrap=50).score(syn, real, None, MetricContext(seed=4))
    assert again.ci == res.ci and other.ci != res.ci
    assert create("mmd", bootstrap=0).score(syn, real, None, MetricContext()).ci is None


def test_mmd_gaussian_on_radiomics(sets):
    real, syn, _ = sets
    res = create("mmd", kernel="gaussian", features="radiomics", bootstrap=0).score(syn, real, None,
                                                                                   MetricContext())
    assert np.isfinite(res.value) and res.details["bandwidth"] > 0 and res.details["features"] == "radiomics"


def test_frd_radiomics_matches_functional_and_caches(sets, tmp_path):
    real, syn, _ = sets
    ctx = MetricContext(seed=0, cache_dir=tmp_path, real_fingerprint="abc")
    res = create("frd", bootstrap=20).score(syn, real, None, ctx)
    ext = registry.create("features", "radiomics", {})
    fr, fs = ext.extract(real.data), ext.extract(syn.data)
    mu, sd = fr.mean(0), fr.std(0, ddof=1)
    sd[sd < 1e-12] = 1
    assert res.value == pytest.approx(frechet_distance_features((fr - mu) / sd, (fs - mu) / sd, 1e-6), rel=1e-9)
    assert res.details["eps"] == 1e-6 and res.details["zscore"] is True
    assert res.details["real_features_cached"] is False and len(list(tmp_path.glob("radiomics-*.npy"))) == 1
    res2 = create("frd", bootstrap=20).score(syn, real, None, ctx)
    assert res2.details["real_features_cached"] is True and res2.value == pytest.approx(res.value, rel=1e-12)


def test_fid_missing_weights_is_skipped_with_instructions(sets, monkeypatch):
    real, syn, _ = sets
    monkeypatch.delenv("BENCHGEN_MEDICALNET_WEIGHTS", raising=False)
    res = create("fid", features="medicalnet-resnet10").score(syn, real, None, MetricContext())
    assert isinstance(res, MetricResult) and res.status == "skipped" and res.value is None
    assert "resnet_10_23dataset.pth" in res.message and "huggingface.co/TencentMedicalNet" in res.message
    assert "BENCHGEN_MEDICALNET_WEIGHTS" in res.message and "weights=" in res.message


def test_msssim_plugin_reports_reference_and_collapse(sets):
    real, syn, _ = sets
    m = create("ms-ssim", kernel_size=3, scales=3, bootstrap=30)
    res = m.score(syn, real, None, MetricContext())
    assert 0 < res.value < 1 and 0 < res.reference < 1 and res.ci[0] <= res.value <= res.ci[1]
    assert res.details["pairs_synthetic"] == 45 and res.details["pairs_real"] == 66
    collapsed = cohort(np.repeat(make_brains(1, seed=5), 6, axis=0))
    assert m.score(collapsed, real, None, MetricContext()).value == pytest.approx(1.0, abs=1e-5)
    sampled = create("ms-ssim", kernel_size=3, scales=3, max_pairs=10, bootstrap=0).score(
        syn, real, None, MetricContext())
    assert sampled.details["pairs_synthetic"] == 10 and sampled.details["pairs_sampled"] is True


def test_prdc_plugin_returns_four_results(sets):
    real, syn, _ = sets
    res = create("prdc", k=3, bootstrap=20).score(syn, real, None, MetricContext())
    assert set(res) == {"precision", "recall", "density", "coverage"}
    for r in res.values():
        assert r.higher_is_better is True and r.ci is not None and r.value >= 0


def test_memorization_flags_copies_not_fresh(sets):
    real, syn, train = sets
    m = create("memorization", bootstrap=20)
    copies = cohort(train.numpy()[:8], "copy")
    res = m.score(copies, real, train, MetricContext())
    assert res["copies"].value == 1.0 and res["copies"].details["n_flagged"] == 8
    assert res["copies"].details["flagged"][0]["train_id"] == "train000"
    assert res["authpct"].value == 0.0 and res["authpct"].reference > 0
    assert m.score(syn, real, train, MetricContext())["copies"].value <= 0.2
    with pytest.raises(MetricError, match="memorization: needs the training set"):
        m.score(syn, real, None, MetricContext())


@pytest.mark.parametrize("name,params", [("mmd", {}), ("frd", {}), ("ms-ssim", {"kernel_size": 3, "scales": 3}),
                                         ("prdc", {"k": 2})])
def test_bad_inputs_raise_one_clear_metric_error(sets, name, params):
    real, syn, _ = sets
    m = create(name, bootstrap=0, **params)
    with pytest.raises(MetricError, match=f"^{name}: the synthetic set has 1 volume"):
        m.score(cohort(syn.numpy()[:1]), real, None, MetricContext())
    with pytest.raises(MetricError, match=f"^{name}: sets have different shapes"):
        m.score(cohort(make_brains(3, (16, 24, 18))), real, None, MetricContext())
    bad = syn.numpy().copy()
    bad[2, 0, 0, 0] = np.nan
    with pytest.raises(MetricError, match=f"^{name}: the synthetic set has NaN/Inf voxels in s002"):
        m.score(cohort(bad), real, None, MetricContext())


def test_kernel_too_large_is_checked_before_any_work(sets):
    real, syn, _ = sets
    with pytest.raises(MetricError, match=r"^ms-ssim: kernel_size 11 with 5 scales.*what fits: kernel_size <= 4"):
        create("ms-ssim", kernel_size=11).score(syn, real, None, MetricContext())


def test_param_range_checks_are_config_errors():
    with pytest.raises(ConfigError, match="bootstrap must be >= 0"):
        create("mmd", bootstrap=-1)
    with pytest.raises(ConfigError, match="scales must be 1..5"):
        create("ms-ssim", scales=6)
    with pytest.raises(ConfigError, match="unknown key 'kernal'"):
        create("mmd", kernal="linear")


def test_unknown_feature_extractor_is_a_metric_error(sets):
    real, syn, _ = sets
    with pytest.raises(MetricError, match="fid: unknown feature plugin 'radiomix'"):
        create("fid", features="radiomix").score(syn, real, None, MetricContext())


def test_msssim_feature_dims_mismatch_reported():
    from benchgen_metrics.common import real_and_synthetic_features

    class Odd:
        name = "odd"
        calls = 0

        def extract(self, v, device="cpu"):
            Odd.calls += 1
            return np.zeros((len(v), 3 + Odd.calls))

        def weights_sha256(self):
            return None

        def config(self):
            return {}

    c = cohort(make_brains(3))
    with pytest.raises(MetricError, match="feature dimensions do not match"):
        real_and_synthetic_features("fid", Odd(), c, c, MetricContext())


def test_contract_tensor_types(sets):
    real, syn, _ = sets
    assert isinstance(real.data, torch.Tensor) and real.data.dtype == torch.float32


def test_rezscore_with_every_real_row_once_is_the_identity():
    import numpy as np
    from benchgen_metrics.common import rezscore, zscore_against_real

    rng = np.random.default_rng(0)
    zr, zs = zscore_against_real(rng.normal(3, 2, (20, 5)), rng.normal(4, 1, (15, 5)))
    a, b = rezscore(zr, np.arange(20), zr, zs)
    assert np.allclose(a, zr) and np.allclose(b, zs)
    i = rng.integers(0, 20, 20)
    (sub,) = rezscore(zr, i, zr[i])
    assert np.allclose(sub.mean(0), 0) and np.allclose(sub.std(0, ddof=1), 1)


def test_feature_sets_extracts_and_zscores_against_the_real_set(sets):
    from benchgen_metrics.common import FeatureSets, feature_sets

    real, syn, _ = sets
    ext = registry.create("features", "radiomics", {})
    fr, fs = ext.extract(real.data), ext.extract(syn.data)
    mu, sd = fr.mean(0), fr.std(0, ddof=1)
    sd[sd < 1e-12] = 1
    for mode, zscored in (("auto", True), ("real", True), ("none", False)):
        got = feature_sets("m", "radiomics", None, mode, syn, real, MetricContext())
        assert isinstance(got, FeatureSets) and got.zscored is zscored and got.extractor.name == "radiomics"
        want = ((fr - mu) / sd, (fs - mu) / sd) if zscored else (fr, fs)
        assert np.allclose(got.real, want[0], rtol=1e-10, atol=1e-12)
        assert np.allclose(got.synthetic, want[1], rtol=1e-10, atol=1e-12)
        assert got.info["features"] == "radiomics" and got.info["features_dim"] == fr.shape[1]


def test_every_feature_based_metric_takes_the_one_features_path(sets, monkeypatch):
    from benchgen_metrics import common

    real, syn, train = sets
    called = []
    one_path = common.feature_sets

    def counted(metric, *args, **kwargs):
        called.append(metric)
        return one_path(metric, *args, **kwargs)

    monkeypatch.setattr(common, "feature_sets", counted)
    for name, params in (("frd", {}), ("kid", {"subsets": 5}), ("prdc", {"k": 3}), ("mmd", {"features": "radiomics"}),
                         ("memorization", {"method": "l2", "features": "radiomics"})):
        create(name, bootstrap=0, **params).score(syn, real, train, MetricContext())
    assert called == ["frd", "kid", "prdc", "mmd", "memorization"]


def test_metrics_of_one_synthetic_set_extract_its_features_once(sets, monkeypatch):
    from benchgen_metrics import common

    real, syn, _ = sets
    monkeypatch.setattr(common, "_SYNTHETIC", [])  # what metrics scored before this test remembered
    calls = []
    extract = common.features
    monkeypatch.setattr(common, "features", lambda ext, c, *a, **k: calls.append(c) or extract(ext, c, *a, **k))
    ctx = MetricContext(seed=0)
    fid = create("frd", bootstrap=0).score(syn, real, None, ctx)
    kid = registry.create("metrics", "kid", {"bootstrap": 0, "subsets": 5}).score(syn, real, None, ctx)
    assert [c is syn for c in calls] == [False, True, False]  # real twice (no cache dir), synthetic once
    assert not fid.details["synthetic_features_reused"] and kid.details["synthetic_features_reused"]
    alone = registry.create("metrics", "kid", {"bootstrap": 0, "subsets": 5}).score(syn.subset(range(len(syn))),
                                                                                   real, None, ctx)
    assert not alone.details["synthetic_features_reused"] and alone.value == pytest.approx(kid.value, rel=1e-12)


def test_fid_needs_a_named_deep_extractor_and_frd_is_the_radiomic_one():
    from benchgen.errors import ConfigError

    with pytest.raises(ConfigError, match="fid needs a deep-feature extractor.*use the metric frd"):
        registry.create("metrics", "fid", {})
    with pytest.raises(ConfigError, match="use the metric frd"):
        registry.create("metrics", "fid", {"features": "radiomics"})
    with pytest.raises(ConfigError, match="that is the metric fid"):
        registry.create("metrics", "frd", {"features": "medicalnet-resnet10"})
    assert registry.create("metrics", "frd", {}).params.features == "radiomics"


def test_frd_keeps_the_cell_keys_of_fid_with_radiomic_features():
    """Results stored when the radiomics Fréchet distance was `fid` + features = "radiomics" stay current."""
    from benchgen.suite.model import PluginSpec

    frd = PluginSpec("metrics", "frd", "frd", registry.create("metrics", "frd", {}).params)
    assert frd.config()["plugin"] == "fid" and frd.config()["version"] == registry.load_class("metrics", "fid").version
    stored = {"features": "radiomics", "weights": None, "eps": 1e-06, "zscore": "auto", "bias_correction": "none",
              "fd_inf_points": 15, "fd_inf_min_fraction": 0.5, "fd_inf_repeats": 4, "bootstrap": 200}
    assert frd.config()["params"] == stored  # the metric_params of healthy_t1's frd records
