"""The `anatomy` metric against the phantom's ground truth: the disease effects it measures are where the
phantom puts them, a holdout-like set reproduces them and a condition-blind set does not; skip reasons and
bad metadata are one line each.

Data: the phantom at 4 mm through crop-pad (the 45×54×45 MNI box; resize is the identity) and scale-01,
bias field off (the metric expects bias-corrected scans), 24 healthy + 16 ftd-like + 16 als-like."""

from __future__ import annotations

import numpy as np
import pytest
from benchgen_data.phantom import PhantomParams, chained_cohort
from benchgen_metrics import anatomy

from benchgen import registry
from benchgen.errors import MetricError
from benchgen.interfaces import MetricContext
from benchgen.testing import tiny_cohorts
from benchgen.volumes import Cohort

SHAPE = (45, 54, 45)
LOBES = ("precentral", "temporal", "occipital", "frontal", "parietal", "other")


def phantom(seed: int, healthy: int, disease: int) -> Cohort:
    p = PhantomParams(voxel_mm=4.0, seed=seed, bias=0.0,
                      conditions={"healthy": healthy, "ftd-like": disease, "als-like": disease})
    return chained_cohort(p, SHAPE)


@pytest.fixture(scope="module")
def real() -> Cohort:
    return phantom(0, 24, 16)


@pytest.fixture(scope="module")
def other() -> Cohort:
    """Other subjects of the same population (what a perfect generator would give)."""
    return phantom(1, 32, 12)


def metric(**params):
    return registry.create("metrics", "anatomy", {"bootstrap": 50, **params})


def effects(cohort: Cohort) -> dict[str, dict[str, float]]:
    """Measured Cohen's d per disease and `tissue.region` (volume as a fraction of the brain mask), in the
    regions that follow the phantom's disease regions (the ceiling: where the effects were planted)."""
    vols, mask_ml = metric(regions="phantom-regions").volumes(cohort, cohort)[:2]
    frac = vols.reshape(len(cohort), -1) / mask_ml[:, None]
    groups = np.array([m["condition"] for m in cohort.metadata])
    names = anatomy.feature_names("phantom-regions")
    return {dis: dict(zip(names, anatomy.cohens_d(frac, groups, dis))) for dis in ("ftd-like", "als-like")}


def regions(*lobes: str) -> list[str]:
    return [f"{lobe}_{s}" for lobe in lobes for s in ("l", "r")]


def test_ftd_like_effect_is_frontal_temporal_tissue_loss(real):
    d = effects(real)["ftd-like"]
    hit = regions("frontal", "temporal")
    # measured: GM d -0.95 … -1.23, CSF d +1.8 … +2.6 in frontal/temporal
    assert all(d[f"gm.{r}"] < -0.6 for r in hit), {r: d[f"gm.{r}"] for r in hit}
    assert all(d[f"csf.{r}"] > 1.5 for r in hit), {r: d[f"csf.{r}"] for r in hit}
    # elsewhere (measured |d| ≤ 0.34): no effect; the central CSF rises with the phantom's ventricle enlargement
    rest = regions("precentral", "occipital", "parietal", "other") + ["cerebellum"]
    assert all(abs(d[f"csf.{r}"]) < 0.6 and d[f"gm.{r}"] > -0.6 for r in rest), {r: d[f"csf.{r}"] for r in rest}
    assert d["csf.central"] > 0.5


def test_als_like_effect_is_precentral_cortex_only(real):
    d = effects(real)["als-like"]
    # measured: CSF d +1.5 / +1.8 in precentral l / r; |d| ≤ 0.48 elsewhere
    assert all(d[f"csf.{r}"] > 1.0 for r in regions("precentral")), d
    rest = regions("temporal", "occipital", "frontal", "parietal", "other") + ["cerebellum", "central"]
    assert all(abs(d[f"csf.{r}"]) < 0.6 for r in rest), {r: d[f"csf.{r}"] for r in rest}


def test_holdout_reproduces_the_effects_and_a_condition_blind_set_does_not(real, other):
    ctx = MetricContext(seed=0)
    held = metric().score(other, real, None, ctx)["effect"]
    healthy = [i for i, m in enumerate(other.metadata) if m["condition"] == "healthy"]
    blind = other.subset(healthy)  # healthy scans labelled with the diseases: effects ≈ 0
    labels = ["healthy"] * 16 + ["ftd-like"] * 8 + ["als-like"] * 8
    blind.metadata = [{**m, "condition": c} for m, c in zip(blind.metadata, labels)]
    ignored = metric().score(blind, real, None, ctx)["effect"]
    assert held.status == ignored.status == "ok"
    assert held.value < 0.5 * ignored.value, (held.value, ignored.value)
    assert held.details["correlation"] > 0.8 > 0.3 > ignored.details["correlation"]
    # measured (default regions: the template parcels): 0.34 (holdout) vs 1.16 (blind), correlation 0.90 vs
    # 0.09; with the phantom's own regions (the ceiling) 0.30 vs 1.10, correlation 0.90 vs 0.09
    assert held.details["regions"] == "parcels"
    assert held.ci[1] < ignored.value
    paired = np.asarray(ignored.replicates) - np.asarray(held.replicates)  # same real resamples in both
    assert (paired > 0).mean() >= 0.95
    # the strongest ftd-like effect the parcels find (measured: CSF d +3.6 real, +3.2 holdout) is reproduced
    table = held.details["effects"]["ftd-like"]
    top = max(table.values(), key=lambda t: abs(t["d_real"]))
    assert top["d_real"] > 1.5 and top["d_synthetic"] > 1.0


def test_w1_ranks_holdout_above_a_contrast_shift(real, other):
    ctx = MetricContext(seed=0)
    shifted = Cohort((other.data * 0.85).clamp(0, 1), other.affine, other.subject_ids, other.metadata)
    good = metric().score(other, real, None, ctx)["w1"]
    bad = metric().score(shifted, real, None, ctx)["w1"]
    assert good.value < 0.5 * bad.value, (good.value, bad.value)
    assert good.ci[1] < bad.ci[0]  # basic intervals: about the true distance (≈ 0 for holdout), not the estimate
    assert "gm.parcel00" in good.details["per_volume"]
    assert good.details["region_definition"]["parcels"]["n"] == 48


def test_effect_is_skipped_without_conditions_but_w1_works():
    c = tiny_cohorts()
    out = metric().score(c["synthetic"], c["test"], None, MetricContext(seed=0))
    assert out["w1"].status == "ok" and np.isfinite(out["w1"].value)
    assert out["effect"].status == "skipped"
    assert out["effect"].message == "anatomy.effect: the real set has no condition metadata (condition or diagnosis)"


def labelled(c: Cohort, labels: list[str], column: str = "condition") -> Cohort:
    return Cohort(c.data, c.affine, c.subject_ids, [{**m, column: v} for m, v in zip(c.metadata, labels)])


def test_a_group_with_fewer_than_two_scans_is_one_skip_line():
    c = tiny_cohorts()
    real = labelled(c["test"], ["healthy"] * 4 + ["als-like"] * 4)
    syn = labelled(c["synthetic"], ["healthy"] * 5 + ["als-like"])
    res = metric().score(syn, real, None, MetricContext(seed=0))["effect"]
    assert res.status == "skipped"
    assert res.message == ("anatomy.effect: the synthetic set has 1 'als-like' scan(s); every condition needs "
                           "at least 2 in both sets")


def test_an_unknown_diagnosis_value_is_one_error_line():
    c = tiny_cohorts()
    real = labelled(c["test"], ["CN"] * 4 + ["MCI"] * 4, column="diagnosis")
    with pytest.raises(MetricError) as exc:
        metric().score(c["synthetic"], real, None, MetricContext(seed=0))
    msg = exc.value.message
    assert msg.startswith("anatomy: the real set: subject 'test-04': unknown diagnosis value 'MCI'; allowed: healthy")
    assert "als-like" in msg and "\n" not in msg


def test_regions_follow_mni_coordinates():
    pts = np.array([[40, 30, 20], [-40, 30, 20], [45, -15, 55], [-50, -10, -20], [10, -90, 5], [5, 0, 10],
                    [10, -60, -35], [30, -50, 50]], dtype=np.float64)
    names = [anatomy.REGIONS[i] for i in anatomy.region_index(pts)]
    assert names == ["frontal_r", "frontal_l", "precentral_r", "temporal_l", "occipital_r", "central",
                     "cerebellum", "parietal_r"]
