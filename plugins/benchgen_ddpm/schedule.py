"""Noise schedules (MONAI's DDPM and DDIM schedulers) and the training target for a prediction type."""

from __future__ import annotations

import torch
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler

from benchgen_ddpm.params import DDPMParams


def _schedule_args(p: DDPMParams) -> dict:
    args: dict = {"num_train_timesteps": p.num_train_timesteps, "schedule": p.schedule}
    if p.schedule != "cosine":  # the cosine schedule takes no betas
        args.update(beta_start=p.beta_start, beta_end=p.beta_end)
    return args


def ddpm_scheduler(p: DDPMParams) -> DDPMScheduler:
    """The training (and 1000-step sampling) scheduler."""
    return DDPMScheduler(**_schedule_args(p), prediction_type=p.prediction_type, clip_sample=p.clip_sample)


def ddim_scheduler(p: DDPMParams, steps: int) -> DDIMScheduler:
    """A DDIM scheduler on the same betas, set to `steps` inference steps."""
    s = DDIMScheduler(**_schedule_args(p), prediction_type=p.prediction_type, clip_sample=p.clip_sample)
    s.set_timesteps(steps)
    return s


def training_target(scheduler: DDPMScheduler, x0: torch.Tensor, noise: torch.Tensor,
                    t: torch.Tensor) -> torch.Tensor:
    """What the UNet learns to output: the noise (epsilon) or the velocity (v-prediction)."""
    if scheduler.prediction_type == "v_prediction":
        return scheduler.get_velocity(x0, noise, t)
    return noise
