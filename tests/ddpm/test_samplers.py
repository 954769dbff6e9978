"""The fast samplers: PNDM on DDPM-trained models, rectified flow (its own training and sampler); both keep the
shape, range and seed reproducibility, work with conditioning and guidance, and bad combinations are one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from benchgen_ddpm.generator import DDPMGenerator
from benchgen_ddpm.params import DDPMParams
from benchgen_ddpm.schedule import rflow_scheduler, train_scheduler, training_target
from benchgen_ddpm.testing import mni_cohort

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.interfaces import FitContext
from benchgen.params import params_to_dict
from benchgen.volumes import Cohort

from .conftest import SHAPE, tiny
from .test_conditional import _ball, _ball_means

RFLOW = {"schedule": "rflow", "prediction_type": "v_prediction", "sampler": "rflow", "inference_steps": 10}
# a constant-intensity ball that a tiny rectified-flow UNet learns in ~150 steps (~20 s on one thread)
BALL_LEVEL = 0.7
BALL_FIT = tiny(**RFLOW, max_steps=150, batch_size=4, val_every=0, lr=3e-3, num_threads=1)
CONDITIONAL = {"condition_on": ["condition", "age", "sex"], "condition_dropout": 0.2, "guidance_scale": 2.0}


def _fit(params: dict, cohort: Cohort, workdir: Path) -> DDPMGenerator:
    gen = registry.create("generators", "ddpm", params)
    gen.fit(cohort, FitContext(workdir=workdir, seed=0, quiet=True))
    return gen


def _loaded(params: dict, folder: Path) -> DDPMGenerator:
    gen = registry.create("generators", "ddpm", params)
    gen.load(folder)
    return gen


@pytest.fixture(scope="module")
def ddpm_ckpt(tmp_path_factory, tiny_train) -> Path:
    """A tiny DDPM-trained (zero-terminal-SNR, v-prediction, as the quick profile) checkpoint."""
    folder = tmp_path_factory.mktemp("ddpm") / "ckpt"
    params = tiny(max_steps=2, val_every=0, num_threads=1, prediction_type="v_prediction", zero_terminal_snr=True)
    _fit(params, tiny_train, tmp_path_factory.mktemp("ddpm-work")).save(folder)
    return folder


@pytest.fixture(scope="module")
def ball_flow(tmp_path_factory) -> tuple[DDPMGenerator, Path]:
    data = torch.stack([_ball() * BALL_LEVEL] * 8)[:, None]
    cohort = Cohort(data, np.eye(4), [f"s{i}" for i in range(8)], [{}] * 8)
    gen = _fit(BALL_FIT, cohort, tmp_path_factory.mktemp("ball-work"))
    folder = tmp_path_factory.mktemp("ball") / "ckpt"
    gen.save(folder)
    return gen, folder


def _check_volumes(x: torch.Tensor, n: int, shape: tuple[int, ...]) -> None:
    assert x.shape == (n, 1, *shape) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and 0 <= float(x.min()) <= float(x.max()) <= 1


@pytest.mark.parametrize("sampler, steps", [("pndm", 4), ("pndm", 10), ("ddim", 5)])
def test_fast_samplers_share_the_ddpm_checkpoint_and_are_reproducible(ddpm_ckpt, sampler, steps):
    base = tiny(max_steps=2, val_every=0, num_threads=1, prediction_type="v_prediction", zero_terminal_snr=True)
    gen = _loaded({**base, "sampler": sampler, "inference_steps": steps, "sample_batch_size": 3}, ddpm_ckpt)
    x = gen.sample(3, seed=7)
    _check_volumes(x, 3, SHAPE)
    assert torch.equal(gen.sample(3, seed=7), x)
    assert not torch.equal(gen.sample(3, seed=8), x)
    one_by_one = _loaded({**base, "sampler": sampler, "inference_steps": steps, "sample_batch_size": 1}, ddpm_ckpt)
    assert torch.allclose(one_by_one.sample(3, seed=7), x, atol=1e-5)  # deterministic: volume i whatever the batch
    info = gen.sampler_info()
    assert (info["sampler"], info["inference_steps"], info["eta"]) == (sampler, steps, 0.0)
    # PNDM's Runge-Kutta warm-up runs the UNet 9 more times than it has steps; DDIM's record is as before
    assert info.get("network_evaluations") == (steps + 9 if sampler == "pndm" else None)


def test_rectified_flow_trains_on_the_straight_line_to_the_velocity():
    p = DDPMParams(**{k: v for k, v in RFLOW.items()})
    s = train_scheduler(p)
    x0, noise, t = torch.full((2, 1, 2, 2, 2), 0.5), torch.randn(2, 1, 2, 2, 2), torch.tensor([0, 750])
    xt = s.add_noise(x0, noise, t)
    assert torch.allclose(xt[0], x0[0]) and torch.allclose(xt[1], 0.25 * x0[1] + 0.75 * noise[1])
    assert torch.equal(training_target(s, x0, noise, t), x0 - noise)
    sampler = rflow_scheduler(p)
    sampler.set_timesteps(10)
    assert [int(t) for t in sampler.timesteps] == list(range(1000, 0, -100))


def test_an_rflow_model_draws_the_ball_it_was_trained_on(ball_flow):
    gen, _ = ball_flow
    x = gen.sample(4, seed=0)
    _check_volumes(x, 4, (8, 8, 8))
    inside = _ball_means(x)
    outside = x[:, 0][:, _ball() == 0].mean(1)
    assert (inside - BALL_LEVEL).abs().max() < 0.12, inside.tolist()
    assert float(outside.max()) < 0.1, outside.tolist()  # 0.02-0.07 measured; after 1 step 0.44-0.47
    assert torch.equal(gen.sample(4, seed=0), x) and not torch.equal(gen.sample(4, seed=1), x)
    assert gen.sampler_info()["sampler"] == "rflow" and "network_evaluations" not in gen.sampler_info()


def test_rflow_steps_are_sampling_only_and_the_schedule_is_part_of_the_model(ball_flow):
    _, folder = ball_flow
    fewer = _loaded({**BALL_FIT, "inference_steps": 4}, folder)  # a sampling param: the same checkpoint
    assert _ball_means(fewer.sample(2, seed=0)).sub(BALL_LEVEL).abs().max() < 0.2
    ddpm = {k: v for k, v in BALL_FIT.items() if k not in RFLOW}
    with pytest.raises(ConfigError, match=r"schedule: checkpoint 'rflow' vs config 'scaled_linear_beta'"):
        _loaded(ddpm, folder)


@pytest.mark.parametrize("sampler", ["pndm", "rflow"])
def test_guidance_and_conditioning_work_with_the_new_samplers(tmp_path, sampler):
    cohort = mni_cohort(4, SHAPE, seed=0)
    meta = [{"condition": ["CN", "ftd"][i % 2], "age": 50.0 + 4 * i, "sex": "MF"[i % 2]} for i in range(4)]
    steps = {"sampler": sampler, "inference_steps": 5} if sampler == "pndm" else RFLOW
    params = tiny(**steps, **CONDITIONAL, max_steps=2, val_every=0, num_threads=1)
    gen = _fit(params, Cohort(cohort.data, cohort.affine, cohort.subject_ids, meta), tmp_path / "w")
    rows = [{"condition": "ftd-like", "age": 63.0, "sex": "F"}, {"condition": "healthy", "age": 48.0, "sex": "M"}]
    guided = gen.sample_conditional(rows, seed=2)
    _check_volumes(guided, 2, SHAPE)
    assert torch.equal(gen.sample_conditional(rows, seed=2), guided)
    gen.save(tmp_path / "ckpt")
    plain = _loaded({**params, "guidance_scale": 1.0}, tmp_path / "ckpt")
    assert float((plain.sample_conditional(rows, seed=2) - guided).abs().max()) > 1e-4
    _check_volumes(gen.sample(2, seed=2), 2, SHAPE)  # the null condition


@pytest.mark.parametrize("changes, words", [
    ({"sampler": "rflow"}, "sampler = \"rflow\" needs a model trained with schedule = \"rflow\""),
    ({**RFLOW, "sampler": "ddim"}, "a schedule = \"rflow\" model samples with sampler = \"rflow\""),
    ({**RFLOW, "sampler": "pndm"}, "a schedule = \"rflow\" model samples with sampler = \"rflow\""),
    ({**RFLOW, "prediction_type": "epsilon"}, "schedule = \"rflow\" needs prediction_type = \"v_prediction\""),
    ({**RFLOW, "zero_terminal_snr": True}, "zero_terminal_snr rescales DDPM betas"),
    ({**RFLOW, "inference_steps": 0}, "inference_steps must be in [1, num_train_timesteps=1000]"),
    ({**RFLOW, "num_train_timesteps": 4000, "inference_steps": 10}, "needs num_train_timesteps <= 2048"),
    ({"sampler": "pndm", "inference_steps": 3}, "pndm sampler needs 4 <= inference_steps <= num_train_timesteps"),
    ({"sampler": "pndm", "inference_steps": 501}, "<= num_train_timesteps // 2 = 500"),
    ({"sampler": "plms"}, "not allowed"),
])
def test_bad_sampler_combinations_are_one_line_config_errors(changes, words):
    with pytest.raises(ConfigError) as exc:
        registry.create("generators", "ddpm", tiny(**changes))
    assert words in exc.value.message and "\n" not in str(exc.value)


def test_ddpm_configs_keep_their_recorded_params_and_sampler_record():
    recorded = params_to_dict(DDPMParams())
    assert recorded["schedule"] == "scaled_linear_beta" and recorded["sampler"] == "ddpm"
    gen = registry.create("generators", "ddpm", tiny())
    assert set(gen.sampler_info()) == {"sampler", "inference_steps", "eta", "prediction_type", "precision"}
