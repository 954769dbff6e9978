"""The training loop is generic: it runs any objective with any settings object that has the loop's fields,
imports nothing of the denoiser, and resumes such a run to exactly the uninterrupted one."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import benchgen_ddpm.loop as loop_module
import pytest
import torch
import torch.nn.functional as F
from benchgen_ddpm.loop import Objective, run_loop, volumes_fingerprint


@dataclass(frozen=True)
class ToySettings:
    """Only the loop's settings (LoopSettings): no network, schedule or conditioning field."""

    lr: float = 1e-2
    warmup_steps: int = 1
    epochs: float = 1.0
    max_steps: int | None = 5
    batch_size: int = 2
    grad_accum: int = 2
    clip_grad: float | None = 1.0
    ema_decay: float | None = 0.9
    mixed_precision: str = "no"
    compile: bool = False
    val_every: int = 1
    checkpoint_every: int = 2
    time_budget_s: float | None = None
    deterministic: bool = True


class Interrupted(RuntimeError):
    pass


def toy_objective(x: torch.Tensor, stop_at: int | None = None) -> Objective:
    """A one-convolution denoiser of Gaussian-noised volumes; its noise comes from the step's generator, so a
    resumed run must hand it the same generator state for the weights to match. `stop_at`: raise at that step."""

    def loss(model, x0, idx, g, step, device):
        if stop_at is not None and step == stop_at:
            raise Interrupted
        noisy = x0 + 0.1 * torch.randn(x0.shape, generator=g).to(device)
        return F.mse_loss(model(noisy), x0)

    def val_loss(model, val, accelerator):
        with torch.no_grad():
            return float(F.mse_loss(model(val), val))

    return Objective("toy", "training", lambda: torch.nn.Conv3d(1, 1, 3, padding=1), loss, val_loss,
                     {"kind": "toy-denoiser"}, volumes_fingerprint(x))


@pytest.fixture(scope="module")
def volumes() -> torch.Tensor:
    return torch.rand((6, 1, 4, 5, 4), generator=torch.Generator().manual_seed(0))


def test_the_loop_imports_nothing_of_the_denoiser():
    tree = ast.parse(Path(loop_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    denoiser = {f"benchgen_ddpm.{m}" for m in ("objective", "network", "schedule", "conditioning", "params",
                                               "generator", "sampling", "finetune")}
    assert imported & denoiser == set(), f"the loop imports {sorted(imported & denoiser)}"
    assert not any(m.startswith(("monai", "benchgen_ldm")) for m in imported)


def test_a_toy_objective_trains_and_resumes_to_the_uninterrupted_run(tmp_path, volumes):
    s = ToySettings()
    whole = run_loop(s, toy_objective(volumes), volumes, volumes[:2], tmp_path / "whole", seed=4, device="cpu")
    assert whole.steps == 5 and whole.resumed_from is None
    assert [r["step"] for r in whole.history] == [1, 2, 3, 4, 5]
    # 4 volumes a step over 6: validation where an epoch boundary is crossed (steps 2 and 3) and at the end
    assert [r["step"] for r in whole.history if r["val_loss"] not in ("", None)] == [2, 3, 5]

    with pytest.raises(Interrupted):  # dies in step 4 (loop step index 3), after the state saved at step 2
        run_loop(s, toy_objective(volumes, stop_at=3), volumes, volumes[:2], tmp_path / "cut", seed=4, device="cpu")
    resumed = run_loop(s, toy_objective(volumes), volumes, volumes[:2], tmp_path / "cut", seed=4, device="cpu")
    assert resumed.resumed_from == 2 and resumed.steps == 5
    assert whole.weights.keys() == resumed.weights.keys()
    for k in whole.weights:  # the EMA weights: the model, EMA and optimizer states all resumed exactly
        assert torch.equal(whole.weights[k], resumed.weights[k]), k
    assert resumed.final_loss == whole.final_loss

    other = run_loop(s, toy_objective(volumes), volumes, None, tmp_path / "seed5", seed=5, device="cpu")
    assert not torch.equal(other.weights["weight"], whole.weights["weight"])  # the seed matters
