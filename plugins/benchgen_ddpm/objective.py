"""What the ddpm trains: the denoiser's loss for :func:`~benchgen_ddpm.loop.run_loop`.

Each micro-batch is noised at uniformly drawn timesteps of the training scheduler and the UNet is fitted
to the scheduler's target (the noise, or the velocity of a v-prediction / rectified-flow model) with MSE;
a conditional model sees each volume's condition, replaced by the null one with ``condition_dropout``.
Fine-tuning starts from a parent's weights with part of the network frozen (:class:`Start`). Noise,
timesteps and dropout come from the step's generator, which the loop seeds from ``(seed, step)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from benchgen.hashing import fingerprint
from benchgen.params import params_to_dict
from benchgen_ddpm.conditioning import Condition, FitConditions
from benchgen_ddpm.intensity import Volumes
from benchgen_ddpm.loop import Objective, moments, volumes_fingerprint
from benchgen_ddpm.network import build_unet
from benchgen_ddpm.params import TRAINING_FIELDS, DDPMParams
from benchgen_ddpm.schedule import train_scheduler, training_target
from benchgen_ddpm.seeds import seed_for


@dataclass(frozen=True)
class Start:
    """Where a fine-tuning run starts: its parent's weights (for this network), which parameters stay
    frozen (name prefixes), and a fingerprint of both that a resumed state must match."""

    weights: dict[str, torch.Tensor]
    frozen: tuple[str, ...] = ()
    fingerprint: str = ""


def training_config(p: DDPMParams) -> dict[str, Any]:
    d = params_to_dict(p)
    return {k: d[k] for k in TRAINING_FIELDS if k in d}  # `added_later` fields at their default are not in d


def data_fingerprint(train_x: Volumes, cond: FitConditions | None, start: Start | None = None) -> str:
    """What a resumed state must have been trained on: the volumes and, when conditional, their conditions
    (and, when fine-tuning, the start)."""
    if cond is None:
        fp = volumes_fingerprint(train_x)
    else:
        parts = [moments(x) for x in [train_x] + cond.train.tensors()]
        fp = fingerprint({"volumes": parts[0], "conditions": parts[1:], "conditioner": cond.conditioner.to_dict()})
    return fp if start is None else fingerprint({"data": fp, "start": start.fingerprint, "frozen": start.frozen})


def batch_condition(cond: FitConditions | None, idx: torch.Tensor, dropout: float, g: torch.Generator,
                    device: Any) -> dict[str, torch.Tensor]:
    """The UNet's conditioning arguments for one micro-batch, each volume's condition replaced by the null
    one with probability `dropout` (drawn after the batch's noise, so an unconditional run draws the same)."""
    if cond is None:
        return {}
    c = cond.train.take(idx)
    if dropout:
        c = c.dropped(torch.rand(len(idx), generator=g) < dropout)
    return c.to(device).kwargs()


def validation_loss(model: torch.nn.Module, val: Volumes, p: DDPMParams, seed: int,
                    accelerator: Accelerator, cond: Condition | None = None) -> float:
    """Mean loss over the validation split with fixed (seeded per volume) noise and timesteps, so values
    from different epochs are comparable; each process takes every W-th volume, then a sum-reduce."""
    scheduler = train_scheduler(p)
    rank, world = accelerator.process_index, accelerator.num_processes
    total = torch.zeros(2, device=accelerator.device)
    was_training = model.training
    model.eval()
    with torch.no_grad(), accelerator.autocast():
        idx = list(range(rank, len(val), world))
        for start in range(0, len(idx), p.batch_size):
            chunk = idx[start:start + p.batch_size]
            x0 = val[chunk].to(accelerator.device)
            noise, t = [], []
            for i in chunk:
                g = torch.Generator().manual_seed(seed_for(seed, 3, i))
                t.append(torch.randint(0, p.num_train_timesteps, (1,), generator=g))
                noise.append(torch.randn(x0.shape[1:], generator=g))
            t_ = torch.cat(t).to(accelerator.device)
            n_ = torch.stack(noise).to(accelerator.device)
            kw = {} if cond is None else cond.take(chunk).to(accelerator.device).kwargs()
            pred = model(scheduler.add_noise(x0, n_, t_), t_, **kw)
            per = F.mse_loss(pred.float(), training_target(scheduler, x0, n_, t_).float(), reduction="none")
            total[0] += per.mean(dim=tuple(range(1, per.ndim))).sum()
            total[1] += len(chunk)
    model.train(was_training)
    total = accelerator.reduce(total, "sum") if world > 1 else total
    return float(total[0] / total[1].clamp(min=1))


def denoiser_objective(p: DDPMParams, train_x: Volumes, seed: int, cond: FitConditions | None = None,
                       init: Start | None = None, name: str = "ddpm") -> Objective:
    """The denoiser on `train_x` (N×C×D×H×W: volumes in [-1, 1], or an ldm's latents) and, for a
    conditional model, `cond`. With `init`, training begins at its weights with its frozen parameters left
    as they are (fine-tuning); without, from MONAI's seeded initialisation."""
    scheduler = train_scheduler(p)

    def build() -> torch.nn.Module:
        model = build_unet(p, None if cond is None else cond.conditioner, in_channels=int(train_x.shape[1]))
        if init is not None:
            model.load_state_dict(init.weights)
            for pname, param in model.named_parameters():
                if pname.startswith(init.frozen):
                    param.requires_grad_(False)
        return model

    def loss(model: Any, x0: torch.Tensor, idx: torch.Tensor, g: torch.Generator, step: int,
             dev: Any) -> torch.Tensor:
        noise = torch.randn(x0.shape, generator=g).to(dev)
        t = torch.randint(0, p.num_train_timesteps, (x0.shape[0],), generator=g).to(dev)
        kw = batch_condition(cond, idx, p.condition_dropout, g, dev)
        pred = model(scheduler.add_noise(x0, noise, t), t, **kw)
        return F.mse_loss(pred.float(), training_target(scheduler, x0, noise, t).float())

    def val_loss(model: torch.nn.Module, val: Volumes, accelerator: Accelerator) -> float:
        return validation_loss(model, val, p, seed, accelerator, None if cond is None else cond.val)

    return Objective(name, "training", build, loss, val_loss, training_config(p),
                     data_fingerprint(train_x, cond, init))
