"""Sampling: DDPM with every training step (the paper), DDIM with N steps and a configurable eta, PNDM with
N steps, or rectified flow with N Euler steps (schedule = "rflow" models); one loop for all four.

Batched and reproducible: the starting noise of volume i is drawn from a generator seeded with
``(seed, i)``, so the deterministic samplers (DDIM with eta = 0, PNDM, rflow) give the same volume i whatever
the batch size; the noise added along a stochastic chain comes from a per-batch generator seeded with
``(seed, batch)``.

A conditional model takes one :class:`~benchgen_ddpm.conditioning.Condition` row per volume; with a guidance
scale s != 1 each step runs the conditional and the null-conditioned halves in one doubled batch and uses
``uncond + s * (cond - uncond)`` of the model output (noise or velocity alike), as MONAI's inferer does.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from benchgen.progress import ProgressFn
from benchgen_ddpm.conditioning import Condition
from benchgen_ddpm.intensity import decode
from benchgen_ddpm.params import DDPMParams
from benchgen_ddpm.precision import autocast
from benchgen_ddpm.schedule import sampling_scheduler
from benchgen_ddpm.seeds import seed_for


def _seed(seed: int, *parts: int) -> int:
    return seed_for(seed, 4, *parts)


def _predict(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, cond: Condition | None,
             guidance: float) -> torch.Tensor:
    """The model output for one step: unconditional, conditional, or classifier-free guided."""
    if cond is None:
        return model(x, t)
    if guidance == 1.0:
        return model(x, t, **cond.kwargs())
    out = model(torch.cat([x, x]), torch.cat([t, t]), **cond.doubled(cond.nulled()).kwargs())
    c, u = out.chunk(2)
    return u + guidance * (c - u)


def _step(scheduler: Any, p: DDPMParams, pred: torch.Tensor, t: int, t_next: int, x: torch.Tensor,
          g: torch.Generator) -> torch.Tensor:
    """One step of the chain; the schedulers' step() take different extras (eta, noise, the next timestep)."""
    if p.sampler == "ddim":
        return scheduler.step(pred, t, x, eta=p.eta, generator=g)[0]
    if p.sampler == "ddpm":
        return scheduler.step(pred, t, x, generator=g)[0]
    if p.sampler == "rflow":
        return scheduler.step(pred, t, x, t_next)[0]
    return scheduler.step(pred, t, x)[0]  # pndm: deterministic


@torch.inference_mode()
def sample_volumes(model: torch.nn.Module, p: DDPMParams, n: int, seed: int, shape: tuple[int, int, int],
                   device: str = "cpu", progress: ProgressFn | None = None, cond: Condition | None = None,
                   guidance: float = 1.0, channels: int = 1,
                   finish: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``n×1×D×H×W`` float32 volumes in [0, 1] (the model works in [-1, 1], see ``intensity``); `cond` holds
    the condition of each of the `n` volumes of a conditional model, guided with scale `guidance`. An ldm
    samples `channels`-channel latents of `shape` and `finish` decodes each batch to volumes."""
    progress = progress or (lambda *a, **k: None)
    model = model.to(device).eval()
    timesteps = [int(t) for t in sampling_scheduler(p).timesteps]
    out = []
    total, done = n * len(timesteps), 0
    for b0 in range(0, n, p.sample_batch_size):
        b = min(p.sample_batch_size, n - b0)
        x = torch.stack([torch.randn((channels, *shape), generator=torch.Generator().manual_seed(_seed(seed, 0, b0 + i)))
                         for i in range(b)]).to(device)
        g = torch.Generator(device=device).manual_seed(_seed(seed, 1, b0))
        c = None if cond is None else cond.take(slice(b0, b0 + b)).to(device)
        scheduler = sampling_scheduler(p)  # per batch: PNDM keeps the chain's past outputs
        for t, t_next in zip(timesteps, timesteps[1:] + [0]):
            with autocast(device, p.mixed_precision):  # the chain itself stays float32
                pred = _predict(model, x, torch.full((b,), t, device=device, dtype=torch.long), c, guidance).float()
            x = _step(scheduler, p, pred, t, t_next, x, g)
            done += b
            progress("ddpm: sampling", done, total, sampler=p.sampler, steps=len(timesteps))
        if finish is None:
            out.append(decode(x.float().cpu(), p.background_gap))
        else:  # an ldm's decoder runs in the model's precision too
            with autocast(device, p.mixed_precision):
                out.append(finish(x.float()).float())
    return torch.cat(out)
