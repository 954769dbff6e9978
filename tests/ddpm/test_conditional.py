"""The conditional ddpm: class conditioning learns what separates the classes, guidance changes the samples,
checkpoints keep the classes and age stats, bad conditions are one clear error, and sampling-only params
reuse a trained model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from benchgen_ddpm.generator import DDPMGenerator
from benchgen_ddpm.params import DDPMParams
from benchgen_ddpm.testing import mni_cohort

from benchgen import registry
from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import FitContext
from benchgen.params import params_to_dict
from benchgen.volumes import Cohort

from .conftest import SHAPE, tiny

BALL_SHAPE = (8, 8, 8)
# two classes a UNet of 8/16 channels separates in ~120 steps: the same ball, dark or bright
SEPARABLE = tiny(max_steps=120, batch_size=4, val_every=0, lr=3e-3, prediction_type="v_prediction",
                 zero_terminal_snr=True, inference_steps=10, condition_on=["condition"], condition_dropout=0.2,
                 num_threads=1)  # 2 threads on a shared 2-core machine are many times slower
EVERYTHING = tiny(condition_on=["condition", "age", "sex"], condition_dropout=0.2, guidance_scale=2.0, max_steps=2,
                  num_threads=1)


def _ball() -> torch.Tensor:
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in BALL_SHAPE], indexing="ij"))
    return torch.from_numpy((np.sqrt((grid ** 2).sum(0)) < 0.8).astype(np.float32))


def _labelled(cohort: Cohort, meta: list[dict]) -> Cohort:
    return Cohort(cohort.data, cohort.affine, cohort.subject_ids, meta)


def _fit(params: dict, cohort: Cohort, workdir: Path, val: Cohort | None = None) -> DDPMGenerator:
    gen = registry.create("generators", "ddpm", params)
    gen.fit(cohort, FitContext(workdir=workdir, seed=0, val=val, quiet=True))
    return gen


@pytest.fixture(scope="module")
def separable(tmp_path_factory) -> tuple[DDPMGenerator, Path]:
    """A class-conditional model of dark (healthy) and bright (ftd-like) balls, and its saved checkpoint."""
    levels = [0.1, 0.9] * 4
    data = torch.stack([_ball() * v for v in levels])[:, None]
    meta = [{"condition": "healthy" if v < 0.5 else "ftd", "age": 60.0, "sex": "F"} for v in levels]
    cohort = Cohort(data, np.eye(4), [f"s{i}" for i in range(len(levels))], meta)
    gen = _fit(SEPARABLE, cohort, tmp_path_factory.mktemp("separable-work"))
    folder = tmp_path_factory.mktemp("separable") / "ckpt"
    gen.save(folder)
    return gen, folder


@pytest.fixture(scope="module")
def everything(tmp_path_factory) -> DDPMGenerator:
    """Conditioned on condition, age and sex (a 2-step fit: only the plumbing is tested)."""
    cohort = mni_cohort(6, SHAPE, seed=0)
    meta = [{"condition": ["CN", "ftd", "als"][i % 3], "age": 50.0 + 4 * i, "sex": "MF"[i % 2]} for i in range(6)]
    val = mni_cohort(3, SHAPE, seed=1)
    val_meta = [{"condition": "healthy", "age": 61.0, "sex": "M"}] * 3
    return _fit(EVERYTHING, _labelled(cohort, meta), tmp_path_factory.mktemp("everything"), _labelled(val, val_meta))


ROWS = [{"condition": "ftd-like", "age": 63.2, "sex": "F"}, {"condition": "healthy", "age": 48.0, "sex": "M"}]


def _ball_means(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0][:, _ball() > 0].mean(1)


def test_class_conditioning_draws_dark_and_bright_balls(separable):
    gen, _ = separable
    x = gen.sample_conditional([{"condition": "healthy"}] * 2 + [{"condition": "ftd-like"}] * 2, seed=0)
    dark, bright = _ball_means(x[:2]), _ball_means(x[2:])
    assert float(dark.max()) + 0.2 < float(bright.min()), (dark.tolist(), bright.tolist())
    assert gen.conditions() == ("condition",)
    assert gen.sampler_info()["classes"] == ["ftd-like", "healthy"]


def test_sampling_only_params_reuse_the_checkpoint_and_guidance_changes_samples(separable):
    gen, folder = separable
    guided = registry.create("generators", "ddpm", {**SEPARABLE, "guidance_scale": 3.0, "inference_steps": 8})
    guided.load(folder)  # sampling params differ from the trained ones: accepted
    plain = registry.create("generators", "ddpm", {**SEPARABLE, "inference_steps": 8})
    plain.load(folder)
    table = [{"condition": "healthy"}, {"condition": "ftd-like"}]
    a, b = plain.sample_conditional(table, seed=3), guided.sample_conditional(table, seed=3)
    assert float((a - b).abs().max()) > 1e-3
    assert guided.sampler_info()["guidance_scale"] == 3.0
    # the runner's checkpoint key leaves these out, so both rows share the one trained model
    assert {"guidance_scale", "sampler", "inference_steps", "eta", "sample_batch_size"} <= set(
        DDPMGenerator.sampling_params)
    untrained = set(DDPMGenerator.sampling_params)
    strip = [{k: v for k, v in params_to_dict(g.params).items() if k not in untrained} for g in (plain, guided)]
    assert strip[0] == strip[1]


def test_the_checkpoint_records_classes_and_age_stats(everything, tmp_path):
    everything.save(tmp_path / "ckpt")
    record = json.loads((tmp_path / "ckpt" / "ddpm.json").read_text())["conditioning"]
    ages = [50.0 + 4 * i for i in range(6)]
    assert record["classes"] == ["als-like", "ftd-like", "healthy"] and record["null_class"] == 3
    assert record["condition_on"] == ["condition", "age", "sex"]
    assert record["age_mean"] == pytest.approx(np.mean(ages)) and record["age_sd"] == pytest.approx(np.std(ages))
    fresh = registry.create("generators", "ddpm", everything.config()["params"])
    fresh.load(tmp_path / "ckpt")
    assert torch.equal(fresh.sample_conditional(ROWS, seed=1), everything.sample_conditional(ROWS, seed=1))
    assert fresh.sampler_info() == everything.sampler_info()


def test_rows_are_reproducible_batched_and_extra_keys_are_ignored(everything):
    x = everything.sample_conditional(ROWS, seed=4)
    assert x.shape == (2, 1, *SHAPE) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    extra = [{**r, "site": "A", "subject": "sub-01"} for r in ROWS]
    assert torch.equal(everything.sample_conditional(extra, seed=4), x)
    assert not torch.equal(everything.sample_conditional(ROWS, seed=5), x)
    assert not torch.equal(everything.sample_conditional(ROWS[::-1], seed=4), x)  # the condition matters
    assert everything.sample(2, seed=4).shape == x.shape  # plain sample(): the null condition


@pytest.mark.parametrize("row, words", [
    ({"condition": "ALS", "age": 60, "sex": "F"}, None),  # a known alias, normalised: accepted
    ({"condition": "martian", "age": 60, "sex": "F"}, "unknown condition value 'martian'; allowed: healthy"),
    ({"age": 60, "sex": "F"}, "row 0: no condition (or diagnosis) value"),
    ({"condition": "healthy", "sex": "F"}, "row 0: no age value"),
    ({"condition": "healthy", "age": "old", "sex": "F"}, "age 'old' is not a finite number"),
    ({"condition": "healthy", "age": 60, "sex": "X"}, "sex 'X' is not one of M, F"),
])
def test_an_unusable_row_is_one_config_error(everything, row, words):
    if words is None:
        assert everything.sample_conditional([row], seed=0).shape[0] == 1
        return
    with pytest.raises(ConfigError) as exc:
        everything.sample_conditional([row], seed=0)
    assert words in exc.value.message and "\n" not in str(exc.value)


def test_a_class_it_was_not_trained_on_names_the_allowed_ones(separable):
    with pytest.raises(ConfigError) as exc:
        separable[0].sample_conditional([{"condition": "als-like"}], seed=0)
    assert exc.value.message == ("ddpm: sample_conditional row 0: condition 'als-like' is not one the model was "
                                 "trained on; allowed: ftd-like, healthy")


def test_a_training_scan_missing_a_value_is_a_data_error_before_training(tmp_path):
    cohort = mni_cohort(3, SHAPE, seed=0)
    full = {"condition": "healthy", "age": 50.0, "sex": "M"}
    meta = [full, {"condition": "ftd", "age": 51.0}, full]
    gen = registry.create("generators", "ddpm", EVERYTHING)
    with pytest.raises(DataError) as exc:
        gen.fit(_labelled(cohort, meta), FitContext(workdir=tmp_path / "w", seed=0, quiet=True))
    assert exc.value.message == "ddpm: training scan 'mni-0-0001': no sex value, which condition_on needs"
    assert not (tmp_path / "w" / "loss.csv").exists()


@pytest.mark.parametrize("changes, words", [
    ({"condition_on": ["diagnosis"]}, "condition_on[0]: 'diagnosis' is not allowed"),
    ({"condition_on": ["age", "age"]}, "condition_on lists a key twice"),
    ({"condition_on": ["sex"], "attention_levels": [False, False], "num_head_channels": [0, 0]},
     "needs at least one attention level"),
    ({"condition_dropout": 0.1}, "need condition_on"),
    ({"condition_on": ["condition"], "condition_dropout": 1.0}, "condition_dropout must be in [0, 1)"),
    ({"condition_on": ["condition"], "guidance_scale": 2.0}, "needs condition_dropout > 0"),
])
def test_bad_conditioning_params_are_one_line_config_errors(changes, words):
    with pytest.raises(ConfigError) as exc:
        registry.create("generators", "ddpm", tiny(**changes))
    assert words in exc.value.message and "\n" not in exc.value.message


def test_unconditional_configs_keep_their_recorded_params():
    recorded = params_to_dict(DDPMParams())
    assert not {"condition_on", "condition_dropout", "guidance_scale"} & set(recorded)
    assert registry.create("generators", "ddpm", tiny()).conditions() == ()
