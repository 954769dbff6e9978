"""Noise schedules (MONAI's DDPM, DDIM, PNDM and rectified-flow schedulers) and the training target."""

from __future__ import annotations

from typing import Any

import torch
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler, PNDMScheduler, RFlowScheduler

from benchgen_ddpm.params import DDPMParams


def _schedule_args(p: DDPMParams) -> dict:
    args: dict = {"num_train_timesteps": p.num_train_timesteps, "schedule": p.schedule}
    if p.schedule != "cosine":  # the cosine schedule takes no betas
        args.update(beta_start=p.beta_start, beta_end=p.beta_end)
    return args


def zero_terminal_snr_betas(betas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2023, Algorithm 1: shift and scale sqrt(alphas_cumprod) so the last one is exactly 0 and
    the first is unchanged. Written here because MONAI's schedulers have no such option."""
    abar_sqrt = torch.cumprod(1.0 - betas.double(), 0).sqrt()
    first, last = abar_sqrt[0].clone(), abar_sqrt[-1].clone()
    abar = ((abar_sqrt - last) * first / (first - last)) ** 2
    alphas = torch.cat([abar[:1], abar[1:] / abar[:-1]])
    return (1.0 - alphas).to(betas.dtype)


def _apply_zero_snr(s: DDPMScheduler | DDIMScheduler | PNDMScheduler) -> None:
    s.betas = zero_terminal_snr_betas(s.betas)
    s.alphas = 1.0 - s.betas
    s.alphas_cumprod = torch.cumprod(s.alphas, 0)


def ddpm_scheduler(p: DDPMParams) -> DDPMScheduler:
    """The training (and 1000-step sampling) scheduler."""
    s = DDPMScheduler(**_schedule_args(p), prediction_type=p.prediction_type, clip_sample=p.clip_sample)
    if p.zero_terminal_snr:
        _apply_zero_snr(s)
    return s


def ddim_scheduler(p: DDPMParams, steps: int) -> DDIMScheduler:
    """A DDIM scheduler on the same betas, set to `steps` inference steps."""
    s = DDIMScheduler(**_schedule_args(p), prediction_type=p.prediction_type, clip_sample=p.clip_sample)
    s.set_timesteps(steps)
    if p.zero_terminal_snr:
        _apply_zero_snr(s)
        # "trailing" steps: start at the last (pure-noise) timestep, e.g. 999, 979, ..., 19 for 50 steps
        ratio = p.num_train_timesteps // steps
        s.timesteps = torch.arange(p.num_train_timesteps - 1, -1, -ratio)[:steps]
    return s


def pndm_scheduler(p: DDPMParams, steps: int) -> PNDMScheduler:
    """MONAI's F-PNDM (Runge-Kutta warm-up, then linear multistep) on the same betas, set to `steps` steps.
    Its PLMS-only mode (`skip_prk_steps`) is not used: from its third step on, MONAI's version feeds the UNet a
    sample one step behind the timestep it names (diffusers repeats one timestep there). The last step lands on
    the clean volume (`set_alpha_to_one`)."""
    s = PNDMScheduler(**_schedule_args(p), prediction_type=p.prediction_type, set_alpha_to_one=True)
    if p.zero_terminal_snr:  # its steps stop short of the zero-SNR timestep, where its formula divides by 0
        _apply_zero_snr(s)
    s.set_timesteps(steps)
    return s


def rflow_scheduler(p: DDPMParams) -> RFlowScheduler:
    """Rectified flow on T discrete timesteps drawn uniformly, as the training loop draws them (it draws them
    itself, from its seeded generator: `sample_timesteps` would use torch's global RNG)."""
    return RFlowScheduler(p.num_train_timesteps, use_discrete_timesteps=True, sample_method="uniform")


def train_scheduler(p: DDPMParams) -> DDPMScheduler | RFlowScheduler:
    """The scheduler whose `add_noise` makes the training inputs."""
    return rflow_scheduler(p) if p.schedule == "rflow" else ddpm_scheduler(p)


def sampling_scheduler(p: DDPMParams) -> Any:
    """The scheduler of `p.sampler`, set to its steps; a fresh one per chain (PNDM keeps state)."""
    if p.sampler == "ddim":
        return ddim_scheduler(p, p.inference_steps)
    if p.sampler == "pndm":
        return pndm_scheduler(p, p.inference_steps)
    if p.sampler == "rflow":
        s = rflow_scheduler(p)
        s.set_timesteps(p.inference_steps)
        return s
    return ddpm_scheduler(p)


def training_target(scheduler: DDPMScheduler | RFlowScheduler, x0: torch.Tensor, noise: torch.Tensor,
                    t: torch.Tensor) -> torch.Tensor:
    """What the UNet learns to output: the noise (epsilon), the velocity (v-prediction) or, for rectified
    flow, the straight line's velocity x0 - noise (MONAI's and MAISI's sign)."""
    if isinstance(scheduler, RFlowScheduler):
        return x0 - noise
    if scheduler.prediction_type == "v_prediction":
        return scheduler.get_velocity(x0, noise, t)
    return noise
