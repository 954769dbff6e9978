"""The `utility` metric: real scans of the population help a small real training set, wrongly labelled
scans and noise do not; skip reasons, label errors and params are one line each; the CNN back-end trains
and is seeded.

Data: the phantom at 6 mm through crop-pad (the 30×36×30 MNI box) and scale-01, bias field off, its disease
effects at 0.3 of their size (at full size 4 + 4 real scans already classify ftd-like at AUC 0.99, leaving
nothing to add). Real training pool: seed 10, 8 healthy + 8 ftd-like; test: seed 11, 20 + 20; "synthetic"
scans of the same population: seed 12, 20 + 20."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchgen_data.phantom import PhantomParams, chained_cohort

from benchgen import registry
from benchgen.errors import ConfigError, MetricError
from benchgen.interfaces import MetricContext, MetricResult
from benchgen.testing import tiny_cohorts
from benchgen.volumes import Cohort
from tests.suites import CONDITIONS, tiny_suite

SHAPE = (30, 36, 30)


def phantom(seed: int, n: int) -> Cohort:
    p = PhantomParams(voxel_mm=6.0, seed=seed, bias=0.0, atrophy=0.3, conditions={"healthy": n, "ftd-like": n})
    return chained_cohort(p, SHAPE)


@pytest.fixture(scope="module")
def pool() -> Cohort:
    return phantom(10, 8)


def small(pool: Cohort, n: int) -> Cohort:
    """The first `n` healthy and `n` ftd-like scans of the pool."""
    by = {c: [i for i, m in enumerate(pool.metadata) if m["condition"] == c] for c in ("healthy", "ftd-like")}
    return pool.subset(by["healthy"][:n] + by["ftd-like"][:n])


@pytest.fixture(scope="module")
def test_set() -> Cohort:
    return phantom(11, 20)


@pytest.fixture(scope="module")
def extra() -> Cohort:
    """Other subjects of the same population: what a perfect conditional generator would give."""
    return phantom(12, 20)


def relabel(c: Cohort, labels: list[str | None], column: str = "condition") -> Cohort:
    return Cohort(c.data, c.affine, c.subject_ids, [{**m, column: v} for m, v in zip(c.metadata, labels)])


def flipped(c: Cohort) -> Cohort:
    return relabel(c, ["healthy" if m["condition"] == "ftd-like" else "ftd-like" for m in c.metadata])


def noise(like: Cohort, seed: int, masked: bool) -> Cohort:
    """Uniform voxel noise (the `noise` baseline's samples), or the same inside the real scans' brains,
    labelled with `like`'s conditions (what a per-condition fit of the noise generator gives)."""
    x = torch.rand(like.data.shape, generator=torch.Generator().manual_seed(seed))
    return Cohort(x * (like.data > 0) if masked else x, like.affine, like.subject_ids, like.metadata)


def metric(**params):
    return registry.create("metrics", "utility", {"bootstrap": 200, "refits": 20, **params})


def all_synthetic(n_train: int, **params):
    """The metric at the ratio that uses all 20 + 20 "synthetic" scans with `n_train` real scans per class."""
    r = 20 / n_train
    return metric(ratios=[r], ratio=r, **params)


CTX = MetricContext(seed=0, conditioning="per-condition")


def test_real_scans_of_the_population_help_a_small_real_set(pool, test_set, extra):
    res = all_synthetic(4).score(extra, test_set, small(pool, 4), CTX)
    assert res.status == "ok", res.message
    # measured: ΔAUC +0.21, CI (+0.05, +0.65); real only 0.79, synthetic only 1.00
    assert res.value > 0.1 and res.ci[0] > 0, (res.value, res.ci)
    d = res.details
    assert d["augmented"]["auc"] == pytest.approx(d["trtr"]["auc"] + res.value)
    assert d["tstr"]["auc"] > 0.9 and d["trtr"]["auc"] < 0.9
    assert d["counts"] == {"train": {"ftd-like": 4, "healthy": 4}, "test": {"ftd-like": 20, "healthy": 20},
                           "synthetic": {"ftd-like": 20, "healthy": 20}}
    assert d["positive"] == "ftd-like" and d["negative"] == "healthy" and d["seeds"] == [0]
    assert len(res.replicates) == 200 and res.ci_bounds == (-1.0, 1.0)


def test_wrongly_labelled_scans_hurt(pool, test_set, extra):
    for n in (4, 8):
        res = all_synthetic(n).score(flipped(extra), test_set, small(pool, n), CTX)
        # measured: ΔAUC -0.59 (4 + 4 real), -0.52 (8 + 8)
        assert res.value < -0.5 and res.ci[1] < 0, (n, res.value, res.ci)
        assert res.details["tstr"]["auc"] < 0.1


def test_noise_does_not_help_significantly(pool, test_set, extra):
    train = small(pool, 8)  # real only: AUC 0.92
    for masked in (False, True):
        res = all_synthetic(8).score(noise(extra, 0, masked), test_set, train, CTX)
        # measured: ΔAUC -0.01 (-0.09, +0.13) (uniform noise), +0.04 (-0.14, +0.17) (noise inside the brains)
        assert res.value < 0.05 and res.ci[0] < 0, (masked, res.value, res.ci)


def test_replicates_pair_across_generators(pool, test_set, extra):
    """Every row resamples the same test subjects and shares the real-only models: paired differences."""
    train = small(pool, 4)
    good = all_synthetic(4).score(extra, test_set, train, CTX)
    bad = all_synthetic(4).score(flipped(extra), test_set, train, CTX)
    assert (np.asarray(good.replicates) - np.asarray(bad.replicates) > 0).mean() == 1.0
    assert good.details["trtr"] == bad.details["trtr"]


def test_an_unconditional_generator_is_skipped(pool, test_set, extra):
    res = metric().score(extra, test_set, small(pool, 4), MetricContext(seed=0, conditioning="unconditional"))
    assert res.status == "skipped"
    assert res.message == "utility: unconditional generator: its labels are assigned, not generated"


def test_a_missing_class_is_one_skip_line(pool, test_set, extra):
    healthy = extra.subset([i for i, m in enumerate(extra.metadata) if m["condition"] == "healthy"])
    res = metric().score(healthy, test_set, small(pool, 4), CTX)
    assert res.status == "skipped"
    assert res.message == "utility: the synthetic set has 0 'ftd-like' scan(s); both classes need at least 2"


def test_sets_without_conditions_are_skipped():
    c = tiny_cohorts()
    res = metric().score(c["synthetic"], c["test"], c["train"], MetricContext(seed=0))
    assert res.status == "skipped"
    assert res.message == "utility: the train set has no condition metadata (condition or diagnosis)"


def labelled(c: Cohort, n_pos: int, positive: str = "ftd-like", column: str = "condition") -> Cohort:
    """`c` with its first `n_pos` scans `positive`, the rest healthy; the positive ones have a darker core
    (larger "ventricles": structure, which the CNN's instance norm keeps, where a global intensity change
    would be normalised away)."""
    data = c.data.clone()
    data[:n_pos, :, 2:6, 3:9, 2:6] *= 0.3
    return relabel(Cohort(data, c.affine, c.subject_ids, c.metadata),
                   [positive] * n_pos + ["healthy"] * (len(c) - n_pos), column)


def test_labels_use_the_conditions_machinery_and_unknown_ones_are_errors():
    c = tiny_cohorts()
    train, test = labelled(c["train"], 5, "FTD", "diagnosis"), labelled(c["test"], 4)
    res = metric(ratios=[0.5], ratio=0.5).score(labelled(c["synthetic"], 3), test, train, MetricContext(seed=0))
    assert res.status == "ok" and res.details["positive"] == "ftd-like"
    bad = relabel(test, ["healthy"] * 7 + ["alzheimer"])
    with pytest.raises(MetricError, match="utility: the test set: subject 'test-07': unknown condition value "
                                          "'alzheimer'"):
        metric().score(labelled(c["synthetic"], 3), bad, train, MetricContext(seed=0))


def test_two_diseases_need_a_positive_class():
    c = tiny_cohorts()
    train = relabel(c["train"], ["healthy"] * 4 + ["ftd-like"] * 3 + ["als-like"] * 3)
    test, syn = labelled(c["test"], 4), labelled(c["synthetic"], 3)
    with pytest.raises(MetricError, match=r"the real sets have 2 classes besides 'healthy' \(als-like, ftd-like\); "
                                          "set params.positive to one of them"):
        metric().score(syn, test, train, MetricContext(seed=0))
    res = metric(positive="ftd", ratio=0.5).score(syn, test, train, MetricContext(seed=0))
    assert res.status == "ok" and res.details["left_out"] == {"train": 3, "test": 0, "synthetic": 0}


@pytest.mark.parametrize("params, message", [
    ({"positive": "healthy"}, "positive and negative are the same class 'healthy'"),
    ({"negative": "stroke"}, "negative: unknown condition value 'stroke'"),
    ({"c": 0.0}, "c must be > 0"),
    ({"channels": []}, "channels must be a non-empty list"),
    ({"steps": 0}, "n_seeds, steps and batch_size must be >= 1"),
    ({"classifier": "forest"}, "classifier must be one of logistic, svm, gboost, cnn or a list"),
    ({"classifier": ["svm", "svm"]}, "without repeats"),
    ({"ratios": [1.0, 0.0]}, "ratios must be distinct numbers > 0"),
    ({"ratio": 3.0}, r"ratio 3.0 must be one of ratios \[0.5, 1.0, 2.0, 4.0\]"),
    ({"synthetic_weight": 0.0}, "synthetic_weight must be > 0"),
    ({"features": "anatomy"}, 'features "anatomy" is now "phantom-regions"'),
])
def test_bad_params_are_one_line(params, message):
    with pytest.raises(ConfigError, match=message):
        metric(**params)


def test_cnn_back_end_learns_and_is_seeded():
    c = tiny_cohorts()
    train, test, syn = labelled(c["train"], 5), labelled(c["test"], 4), labelled(c["synthetic"], 3)
    m = metric(classifier="cnn", n_seeds=2, steps=30, batch_size=4, channels=[4, 8], bootstrap=50, num_threads=1,
               ratios=[0.5], ratio=0.5)
    ctx = MetricContext(seed=3, conditioning="conditional: condition")
    res = m.score(syn, test, train, ctx)
    assert res.status == "ok", res.message
    assert res.details["seeds"] == [3000, 3001]
    assert res.details["refits"] == 2  # one refit per seed, each on its own resample
    assert res.details["classifier"]["network"] == "monai.networks.nets.Classifier"
    assert res.details["trtr"]["auc"] > 0.9  # the positive class has a darker core
    assert res.value == m.score(syn, test, train, ctx).value


def test_features_plugin_back_end():
    c = tiny_cohorts()
    train, test, syn = labelled(c["train"], 5), labelled(c["test"], 4), labelled(c["synthetic"], 3)
    res = metric(features="radiomics", bootstrap=20, ratios=[0.5], ratio=0.5).score(syn, test, train,
                                                                                      MetricContext(seed=0))
    assert res.status == "ok" and res.details["features"] == "radiomics"
    assert res.details["trtr"]["auc"] > 0.9


SUITE = tiny_suite("utility", template=CONDITIONS, suite={"primary_metric": "utility"},
                   generators=["holdout", "noise"], evaluation={"n_samples": 6, "bootstrap": 5},
                   metrics={"utility": {"params": {"classifier": ["logistic", "svm"], "ratios": [0.25, 0.5],
                                                   "ratio": 0.5, "refits": 3}}})



def test_through_the_runner(tmp_path, monkeypatch):
    """A conditional generator is scored on the suite's training and test splits; noise (unconditional) is
    skipped with its reason."""
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite

    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    (tmp_path / "s.toml").write_text(SUITE)
    summary = run_suite(load_suite(tmp_path / "s.toml", profile="default"), tmp_path / "r.sqlite", quiet=True)
    assert summary.ok, summary.errors
    by = {(r["generator"], r["metric"]): r for r in ResultStore(tmp_path / "r.sqlite").records(suite="utility")
          if r["metric"] != "utility"}  # the runner's row that says the sub-results are columns
    assert set(by) == {(g, f"utility.{c}") for g in ("holdout", "noise") for c in ("logistic", "svm")}
    for name in ("logistic", "svm"):
        held, noise_row = by[("holdout", f"utility.{name}")], by[("noise", f"utility.{name}")]
        assert held["status"] == "ok" and held["sampler"]["conditioning"] == "conditional: condition"
        assert set(held["details"]["ratios"]) == {"0.25", "0.5"} and held["details"]["ratio"] == 0.5
        assert noise_row["status"] == "skipped"
        assert noise_row["message"] == "utility: unconditional generator: its labels are assigned, not generated"


def test_real_only_memo_is_keyed_by_the_labels(pool, test_set, extra):
    """The real-only predictions are memoised across generators; permuting the training labels (same volumes,
    so the same content key) must refit, not return the first fit's AUC."""
    from benchgen_metrics import utility

    ctx = MetricContext(seed=0, conditioning="per-condition", real_fingerprint="real-set")
    train = small(pool, 8)
    rng = np.random.default_rng(3)
    permuted = relabel(train, list(rng.permutation([m["condition"] for m in train.metadata])))
    first = metric(bootstrap=0).score(extra, test_set, train, ctx)
    memoised = metric(bootstrap=0).score(extra, test_set, permuted, ctx)
    utility._TRTR_MEMO.clear()
    fresh = metric(bootstrap=0).score(extra, test_set, permuted, ctx)
    assert first.details["trtr"]["auc"] > 0.9  # 8 + 8 correctly labelled scans classify well
    assert memoised.details["trtr"]["auc"] == fresh.details["trtr"]["auc"] < 0.8


def test_default_features_are_not_the_phantoms_regions_and_still_detect_its_disease():
    """Full-size disease effects (the phantom's default atrophy = 1), 40 + 40 real training scans, 20 + 20 test
    scans: the classifiers see the template parcels and grid, not the regions the disease was planted in."""
    def full(seed: int, n: int) -> Cohort:
        return chained_cohort(PhantomParams(voxel_mm=6.0, seed=seed, bias=0.0, atrophy=1.0,
                                            conditions={"healthy": n, "ftd-like": n}), SHAPE)

    train, test = full(20, 40), full(21, 20)
    m = metric(classifier=["logistic", "svm", "gboost"], bootstrap=0, ratios=[0.5], ratio=0.5)
    res = m.score(test, test, train, CTX)
    assert set(res) == {"logistic", "svm", "gboost"}
    for name, r in res.items():
        assert r.details["features"] == "parcels+grid"
        assert r.details["regions"]["parcels"]["sha256_16"] == "d6b11b5d8cc6c922"
        # measured: real-only AUC 1.000 for all three (als-like at the same size: 0.84 / 0.89 / 0.90)
        assert r.details["trtr"]["auc"] > 0.9, (name, r.details["trtr"]["auc"])


def test_several_classifiers_are_columns_and_one_is_the_old_single_column(pool, test_set, extra):
    train = small(pool, 4)
    one = all_synthetic(4, bootstrap=20).score(extra, test_set, train, CTX)
    both = all_synthetic(4, bootstrap=20, classifier=["logistic", "svm"]).score(extra, test_set, train, CTX)
    assert isinstance(one, MetricResult) and set(both) == {"logistic", "svm"}
    assert both["logistic"].value == one.value and both["logistic"].replicates.tolist() == one.replicates.tolist()
    assert both["svm"].details["classifier"]["model"] == "LinearSVC"
    assert both["svm"].value != one.value


def test_ratios_are_all_in_details_and_the_board_shows_one(pool, test_set, extra):
    train = small(pool, 8)  # 8 + 8 real; 20 + 20 synthetic: ratios up to 2.5
    res = metric(bootstrap=50, refits=10, ratios=[0.5, 1.0, 2.0, 4.0], ratio=2.0).score(extra, test_set, train, CTX)
    table = res.details["ratios"]
    assert table["0.5"]["n_synthetic"] == {"healthy": 4, "ftd-like": 4}
    assert table["2"]["n_synthetic"] == {"healthy": 16, "ftd-like": 16}
    assert res.value == table["2"]["delta_auc"] and res.ci == tuple(table["2"]["ci"])
    assert table["4"] == {"skipped": "ratio 4 needs 32 synthetic scans of each class, the synthetic set has 20 of "
                                     "one (raise n_samples or lower params.ratio)"}
    assert table["1"]["synthetic_share"] == 0.5 and res.details["synthetic_share"] == pytest.approx(2 / 3)
    assert all(t["trtr_auc"] == table["1"]["trtr_auc"] for t in table.values() if "trtr_auc" in t)
    too_many = metric(bootstrap=0, ratios=[4.0], ratio=4.0).score(extra, test_set, train, CTX)
    assert too_many.status == "skipped" and too_many.message.startswith("utility: ratio 4 needs 32 synthetic")


def test_source_weights_balance_classes_within_each_source():
    from benchgen_metrics.classifiers import source_weights

    y = np.array([0, 1, 1, 1, 0, 0, 1, 1])
    source = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    w = source_weights(y, source, 0.5)
    # real: 1 healthy, 3 positive -> 2.0 and 2/3 (each class half of 4); synthetic: 2 + 2 -> 1.0, times 0.5
    assert w.tolist() == pytest.approx([2.0, 2 / 3, 2 / 3, 2 / 3, 0.5, 0.5, 0.5, 0.5])
    assert w[source == 1].sum() == pytest.approx(0.5 * w[source == 0].sum())


def test_intervals_refit_on_resampled_training_and_synthetic_sets(pool, test_set, extra):
    """Replicates come from refits on resampled sets: the synthetic-only AUC varies between replicates even
    though its test predictions would be fixed under a test-only bootstrap on the same resamples."""
    res = all_synthetic(4, bootstrap=100, refits=10).score(extra, test_set, small(pool, 4), CTX)
    assert res.details["refits"] == 10
    lo, hi = res.details["tstr"]["auc_ci"]
    lo_r, hi_r = res.details["trtr"]["auc_ci"]
    assert hi - lo > 0 and hi_r - lo_r > 0.1  # measured: real only (0.50, 0.92) with 4 + 4 real scans


def test_ratio_plot(tmp_path, pool, test_set, extra):
    from benchgen_metrics.utility_plot import ratio_figure, ratio_plot, ratio_rows

    train = small(pool, 4)
    m = metric(bootstrap=20, refits=4, ratios=[1.0, 2.0, 5.0], ratio=1.0, classifier=["logistic", "svm"])
    records = []
    for gen, syn in (("holdout", extra), ("swapped", flipped(extra))):
        for name, r in m.score(syn, test_set, train, CTX).items():
            records.append({"generator": gen, "metric": f"utility.{name}", "metric_plugin": "utility",
                            "status": r.status, "details": r.details})
    rows = ratio_rows(records)
    assert set(rows) == {(g, c) for g in ("holdout", "swapped") for c in ("logistic", "svm")}
    assert [p[0] for p in rows[("holdout", "svm")]] == [1.0, 2.0, 5.0]
    assert rows[("holdout", "logistic")][0][1] == records[0]["details"]["ratios"]["1"]["delta_auc"]
    fig = ratio_figure(rows)
    assert [ax.get_title() for ax in fig.axes] == ["logistic", "svm"]
    assert [len(ax.containers) for ax in fig.axes] == [2, 2]  # one error-bar line per generator
    path = ratio_plot(rows, tmp_path / "ratios.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
