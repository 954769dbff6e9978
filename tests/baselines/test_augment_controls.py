"""Value tests for the classical-augmentation rows (augment, mixup) and the label-swap control: which scans they
start from, which labels their outputs carry, and the subjects they record — checked against the cohort given."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchgen_baselines.augment import Augment, AugmentParams, Mixup, elastic_magnitude
from benchgen_baselines.controls import LabelSwap, LabelSwapParams
from scipy import ndimage

from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import FitContext
from benchgen.volumes import Cohort
from tests.suites import CONDITIONS, tiny_suite

SHAPE = (12, 16, 12)
AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])


def two_condition_cohort(n_per: int = 5, seed: int = 0) -> Cohort:
    """Distinct smooth random scans in [0, 1], the first `n_per` healthy, the rest ftd-like (smooth, so a small
    deformation keeps a scan closer to its source than to any other scan)."""
    rng = np.random.default_rng(seed)
    vols = []
    for _ in range(2 * n_per):
        v = ndimage.gaussian_filter(rng.random(SHAPE), 1.5)
        vols.append((v - v.min()) / (v.max() - v.min()))
    data = torch.from_numpy(np.stack(vols)[:, None].astype(np.float32))
    conds = ["healthy"] * n_per + ["ftd-like"] * n_per
    ids = [f"sub-{c[:1]}{i:02d}" for i, c in enumerate(conds)]
    return Cohort(data, AFFINE, ids, [{"condition": c} for c in conds])


def table(healthy: int, ftd: int) -> list[dict[str, str]]:
    return [{"condition": "healthy"}] * healthy + [{"condition": "ftd-like"}] * ftd


def nearest(x: torch.Tensor, pool: Cohort) -> list[int]:
    """Index of the pool scan most correlated with each output."""
    a = x.reshape(len(x), -1).double()
    b = pool.data.reshape(len(pool), -1).double()
    a = (a - a.mean(1, keepdim=True)) / a.std(1, keepdim=True)
    b = (b - b.mean(1, keepdim=True)) / b.std(1, keepdim=True)
    return (a @ b.T).argmax(1).tolist()


def fitted(gen, train: Cohort, tmp_path):
    gen.fit(train, FitContext(tmp_path, seed=0))
    return gen


# ------------------------------------------------------------------------------------ augment
def test_augment_keeps_labels_and_records_its_sources(tmp_path):
    train = two_condition_cohort()
    gen = fitted(Augment(), train, tmp_path)
    x = gen.sample_conditional(table(4, 3), seed=5)
    assert x.shape == (7, 1, *SHAPE) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    sources = gen.last_subject_ids()
    cond_of = {sid: m["condition"] for sid, m in zip(train.subject_ids, train.metadata)}
    assert [cond_of[s] for s in sources] == ["healthy"] * 4 + ["ftd-like"] * 3  # each row from its condition
    # the recorded source is the scan each output came from: its nearest training scan, and not a verbatim copy
    assert [train.subject_ids[i] for i in nearest(x, train)] == sources
    for row, sid in enumerate(sources):
        assert not torch.equal(x[row], train.data[train.subject_ids.index(sid)])


def test_augment_with_every_strength_zero_returns_its_sources(tmp_path):
    train = two_condition_cohort()
    off = AugmentParams(rotate_deg=0, scale=0, translate_mm=0, elastic_mm=0, bias=0, gamma=(1.0, 1.0), noise_std=0)
    gen = fitted(Augment(off), train, tmp_path)
    x = gen.sample_conditional(table(2, 2), seed=1)
    src = torch.stack([train.data[train.subject_ids.index(s)] for s in gen.last_subject_ids()])
    assert torch.allclose(x, src, atol=1e-5)  # the identity transform: each output is its source scan


def test_augment_deterministic_per_seed_and_through_a_checkpoint(tmp_path):
    train = two_condition_cohort()
    gen = fitted(Augment(), train, tmp_path)
    a = gen.sample_conditional(table(3, 3), seed=2)
    assert torch.equal(a, gen.sample_conditional(table(3, 3), seed=2))
    assert not torch.equal(a, gen.sample_conditional(table(3, 3), seed=3))
    gen.save(tmp_path / "ckpt")
    fresh = Augment()
    fresh.load(tmp_path / "ckpt")
    assert torch.equal(fresh.sample_conditional(table(3, 3), seed=2), a)


def test_augment_unknown_condition_is_one_config_error(tmp_path):
    gen = fitted(Augment(), two_condition_cohort(), tmp_path)
    with pytest.raises(ConfigError, match="als-like"):
        gen.sample_conditional([{"condition": "als-like"}], seed=0)


def test_elastic_magnitude_gives_the_displacement_asked_for():
    """Checked against MONAI's own Rand3DElastic: a coordinate ramp through it shows the displacement."""
    from monai.transforms import Rand3DElastic

    shape, sigma, want = (40, 40, 40), 4.0, 1.0
    ramp = torch.arange(shape[0], dtype=torch.float32)[:, None, None].expand(*shape)[None].clone()
    mag = elastic_magnitude(want, sigma)
    t = Rand3DElastic(sigma_range=(sigma, sigma), magnitude_range=(mag, mag), prob=1.0, padding_mode="border")
    t.set_random_state(0)
    shift = (torch.as_tensor(t(ramp)) - ramp)[0, 10:30, 10:30, 10:30]
    assert 0.5 * want < float(shift.std()) < 2.0 * want  # the right order of size (one field, its sd varies)


def test_augment_params_refuse_nonsense():
    with pytest.raises(ValueError, match="gamma"):
        AugmentParams(gamma=(1.5, 0.7))
    with pytest.raises(ValueError, match="noise_std"):
        AugmentParams(noise_std=-0.1)


# -------------------------------------------------------------------------------------- mixup
def test_mixup_blends_two_scans_of_the_requested_condition(tmp_path):
    train = two_condition_cohort()
    gen = fitted(Mixup(), train, tmp_path)
    x = gen.sample_conditional(table(3, 4), seed=9)
    cond_of = {sid: m["condition"] for sid, m in zip(train.subject_ids, train.metadata)}
    firsts, seconds, weights = gen.last_subject_ids(), gen.last_partner_ids(), gen._last["weights"]
    assert [cond_of[s] for s in firsts] == ["healthy"] * 3 + ["ftd-like"] * 4
    assert [cond_of[s] for s in seconds] == [cond_of[s] for s in firsts]  # same-class blends only
    for row, (a, b, w) in enumerate(zip(firsts, seconds, weights)):
        assert a != b and 0.0 <= w <= 1.0
        expect = w * train.data[train.subject_ids.index(a)] + (1 - w) * train.data[train.subject_ids.index(b)]
        assert torch.allclose(x[row], expect, atol=1e-6)


# --------------------------------------------------------------------------------- label-swap
def test_label_swap_returns_real_scans_of_the_other_condition(tmp_path):
    train = two_condition_cohort()
    gen = fitted(LabelSwap(), train, tmp_path)
    x = gen.sample_conditional(table(3, 3), seed=0)
    cond_of = {sid: m["condition"] for sid, m in zip(train.subject_ids, train.metadata)}
    # asked for healthy, it returns ftd-like scans verbatim (and the other way round)
    assert [cond_of[s] for s in gen.last_subject_ids()] == ["ftd-like"] * 3 + ["healthy"] * 3
    for row, sid in enumerate(gen.last_subject_ids()):
        assert torch.equal(x[row], train.data[train.subject_ids.index(sid)])


def test_label_swap_permute_is_a_seeded_permutation(tmp_path):
    train = two_condition_cohort(n_per=10)
    gen = LabelSwap(LabelSwapParams(mode="permute"))
    gen.fit(train, FitContext(tmp_path, seed=4))
    assert sorted(map(str, gen._conds)) == sorted(m["condition"] for m in train.metadata)
    assert gen.true_conditions() == [m["condition"] for m in train.metadata]
    assert gen._conds != gen.true_conditions()


def test_label_swap_needs_two_conditions(tmp_path):
    one = two_condition_cohort()
    one = one.subset(list(range(5)))  # healthy only
    with pytest.raises(DataError, match="two conditions"):
        LabelSwap().fit(one, FitContext(tmp_path))


# ----------------------------------------------------------------------------------- in a run
RUN_SUITE = tiny_suite("derived", template=CONDITIONS, suite={"primary_metric": "memorization"},
                       generators=["augment", "label-swap", "holdout"], metrics=["memorization"],
                       evaluation={"n_samples": 6, "bootstrap": 5, "draws": 2})



def test_records_of_derived_rows_name_each_volumes_source_in_the_draws_training_set(tmp_path, monkeypatch):
    from benchgen.conditions import conditions_of
    from benchgen.data.load import load_data
    from benchgen.results.store import ResultStore, draw_of
    from benchgen.runner import condition_table, run_suite
    from benchgen.suite.load import load_suite

    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    (tmp_path / "s.toml").write_text(RUN_SUITE)
    suite = load_suite(tmp_path / "s.toml")
    summary = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert summary.ok, summary.errors
    records = ResultStore(tmp_path / "r.sqlite").records(suite="derived")
    for draw in (0, 1):
        train = load_data(suite, draw=draw).splits.train
        cond_of = dict(zip(train.subject_ids, conditions_of(train.subject_ids, train.metadata)))
        wanted = [row["condition"] for row in condition_table(suite, load_data(suite, draw=draw)).rows]
        other = {"healthy": "ftd-like", "ftd-like": "healthy"}
        for gen, expect in (("augment", wanted), ("label-swap", [other[c] for c in wanted])):
            recs = [r for r in records if r["generator"] == gen and draw_of(r) == draw]
            assert recs
            for rec in recs:  # each from this draw's training scans, of the condition it is labelled with
                assert [cond_of[s] for s in rec["sampler"]["source_subjects"]] == expect
    # holdout keeps its records as they were: it names no sources
    assert all("source_subjects" not in r["sampler"] for r in records if r["generator"] == "holdout")


@pytest.mark.parametrize("profile, draws", [("quick", 2), ("paper", 5)])
def test_the_augmentation_suite_loads_with_its_controls_and_draws(profile, draws):
    from pathlib import Path

    from benchgen.suite.load import load_suite

    suite = load_suite(Path(__file__).resolve().parents[2] / "benchmarks" / "augmentation_fewshot.toml",
                       profile=profile)
    assert suite.draws == draws and suite.primary_metric == "utility"
    assert list(suite.generators) == ["holdout", "label-swap", "augment", "mixup", "gaussian", "ddpm-cond",
                                      "finetune"]
    for label in ("label-swap", "augment", "mixup"):  # drawn to the condition table, like conditional generators
        assert suite.generators[label].build().conditions() == ("condition",)
