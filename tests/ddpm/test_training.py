"""Training, sampling, save/load and telemetry of the ddpm plugin on tiny volumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from benchgen_ddpm.checkpoint import load_training_state
from benchgen_ddpm.telemetry import read_losses
from safetensors.torch import load_file

from benchgen import registry
from benchgen.errors import PluginError
from benchgen.interfaces import FitContext

from .conftest import SHAPE, tiny


def make(**changes):
    return registry.create("generators", "ddpm", tiny(**changes))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_train, tiny_val):
    root = tmp_path_factory.mktemp("fit")
    calls = []
    gen = make(max_steps=6, ema_decay=0.9, grad_accum=2, clip_grad=1.0)
    gen.fit(tiny_train, FitContext(workdir=root / "work", seed=3, val=tiny_val,
                                   progress=lambda *a, **k: calls.append((a, k))))
    gen.save(root / "ckpt")
    return gen, root, calls


def test_fit_writes_telemetry_and_safe_checkpoints(fitted):
    gen, root, calls = fitted
    info = gen.train_info
    assert info["steps"] == 6 and info["total_steps"] == 6 and not info["stopped_by_budget"]
    # 6 steps x batch 2 x accumulation 2 over 6 training volumes = 4 epochs
    assert info["epochs"] == pytest.approx(4.0)
    rows = read_losses(root / "work" / "loss.csv")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["loss"] is not None and np.isfinite(r["loss"]) and r["loss"] > 0 for r in rows)
    # val_every = 1 epoch: a validation loss whenever an epoch boundary is crossed, and at the end
    assert [r["step"] for r in rows if r["val_loss"] is not None] == [2, 3, 5, 6]
    assert (root / "work" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # progress callback: description, completed, total and the loss
    assert [c[0][1] for c in calls] == [1, 2, 3, 4, 5, 6] and all(c[0][2] == 6 for c in calls)
    assert all("loss" in c[1] for c in calls)
    # nothing but safetensors / JSON / CSV / PNG on disk: no pickles anywhere
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and {p.suffix for p in files} <= {".safetensors", ".json", ".csv", ".png"}
    meta = json.loads((root / "ckpt" / "ddpm.json").read_text())
    assert meta["shape"] == list(SHAPE) and meta["weights"] == "ema" and meta["training"]["steps"] == 6


def test_saved_weights_are_the_ema_weights(fitted):
    gen, root, _ = fitted
    groups, meta = load_training_state(root / "work")
    assert meta["done"] and meta["step"] == 6
    saved = load_file(str(root / "ckpt" / "weights.safetensors"))
    ema = {k[len("module."):]: v for k, v in groups["ema"].items() if k.startswith("module.")}
    raw = groups["model"]
    assert saved.keys() == raw.keys()
    assert all(torch.equal(saved[k], ema[k]) for k in saved)
    assert any(not torch.equal(saved[k], raw[k]) for k in saved)  # EMA lags the raw weights
    assert int(groups["ema"]["n_averaged"]) == 6


def test_sampling_is_seeded_batched_and_in_range(fitted, tiny_train):
    gen, root, _ = fitted
    a = gen.sample(3, seed=0)
    assert a.shape == (3, 1, *SHAPE) and a.dtype == torch.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.equal(a, gen.sample(3, seed=0))
    assert not torch.allclose(a, gen.sample(3, seed=1))
    assert np.allclose(gen.affine, tiny_train.affine)
    # deterministic DDIM: volume i does not depend on the batch it is drawn in
    small = registry.create("generators", "ddpm", tiny(ema_decay=0.9, grad_accum=2, clip_grad=1.0,
                                                       max_steps=6, sample_batch_size=1))
    small.load(root / "ckpt")
    assert torch.allclose(small.sample(3, seed=0), a, atol=1e-5)
    assert small.sampler_info()["trained_steps"] == 6  # a loaded checkpoint knows how long it trained
    # eta > 0 adds noise along the chain; the DDPM sampler runs every training step
    noisy = make(ema_decay=0.9, eta=1.0)
    noisy.load(root / "ckpt")
    assert not torch.allclose(noisy.sample(3, seed=0), a, atol=1e-3)
    assert gen.sampler_info()["sampler"] == "ddim" and gen.sampler_info()["inference_steps"] == 4


def test_ddpm_sampler_runs_every_training_step(tmp_path, tiny_train):
    # a short schedule keeps this fast; the paper's 1000 steps are the same code path
    full = make(sampler="ddpm", num_train_timesteps=20, inference_steps=20, max_steps=1, val_every=0)
    full.fit(tiny_train, FitContext(workdir=tmp_path / "w"))
    steps = []
    out = full.sample(2, seed=0, progress=lambda d, c, t, **k: steps.append((c, t)))
    assert steps[-1] == (40, 40) and len(steps) == 20 and out.shape == (2, 1, *SHAPE)
    assert torch.equal(out, full.sample(2, seed=0))
    assert full.sampler_info() == {"sampler": "ddpm", "inference_steps": 20, "eta": 0.0,
                                   "prediction_type": "epsilon", "precision": "fp32", "trained_steps": 1}


def test_load_round_trip_and_unfitted_errors(fitted, tmp_path):
    gen, root, _ = fitted
    other = make()
    with pytest.raises(PluginError):
        other.sample(1, 0)
    with pytest.raises(PluginError):
        other.save(tmp_path / "x")
    other.load(root / "ckpt")
    assert torch.equal(other.sample(2, seed=5), gen.sample(2, seed=5))
    assert other.train_info["steps"] == 6


def test_loss_falls_and_v_prediction_trains(tmp_path, tiny_train):
    gen = make(max_steps=40, val_every=0, lr=3e-3, prediction_type="v_prediction", batch_size=3)
    gen.fit(tiny_train, FitContext(workdir=tmp_path / "w", seed=0))
    losses = [r["loss"] for r in read_losses(tmp_path / "w" / "loss.csv")]
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])


def test_refit_of_a_finished_run_trains_nothing(fitted, tiny_train, tiny_val):
    gen, root, _ = fitted
    again = make(max_steps=6, ema_decay=0.9, grad_accum=2, clip_grad=1.0)
    again.fit(tiny_train, FitContext(workdir=root / "work", seed=3, val=tiny_val))
    assert again.train_info["resumed_from"] == 6
    assert torch.equal(again.sample(2, 0), gen.sample(2, 0))


def test_time_budget_and_bf16(tmp_path, tiny_train):
    gen = make(max_steps=50, time_budget_s=1e-6, val_every=0)
    gen.fit(tiny_train, FitContext(workdir=tmp_path / "a"))
    assert gen.train_info["steps"] == 1 and gen.train_info["stopped_by_budget"]
    assert gen.sampler_info()["trained_steps"] == 1  # recorded with every score of these samples
    bf = make(max_steps=2, mixed_precision="bf16", val_every=0)
    bf.fit(tiny_train, FitContext(workdir=tmp_path / "b"))
    rows = read_losses(tmp_path / "b" / "loss.csv")
    assert len(rows) == 2 and all(np.isfinite(r["loss"]) for r in rows)
