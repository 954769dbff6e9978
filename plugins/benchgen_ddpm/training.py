"""The DDPM training loop on ``accelerate.Accelerator``: one CPU, one GPU, or many via ``accelerate launch``.

Mixed precision, gradient accumulation, clipping, EMA, torch.compile, validation loss, time budget and
resumable checkpoints. Randomness is derived from ``(seed, step)`` rather than carried in RNG state,
so a run resumed from a checkpoint draws exactly the batches, noise and timesteps the uninterrupted run
would have drawn (and, on CPU in deterministic mode, reproduces its loss trajectory).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import broadcast, gather_object
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from benchgen.errors import ConfigError
from benchgen.hashing import fingerprint
from benchgen.params import params_to_dict
from benchgen.progress import ProgressFn
from benchgen_ddpm.checkpoint import (
    config_mismatch,
    flatten_optimizer,
    load_training_state,
    save_training_state,
    unflatten_optimizer,
)
from benchgen_ddpm.conditioning import Condition, FitConditions
from benchgen_ddpm.intensity import Volumes
from benchgen_ddpm.network import build_unet
from benchgen_ddpm.params import TRAINING_FIELDS, DDPMParams
from benchgen_ddpm.schedule import train_scheduler, training_target
from benchgen_ddpm.telemetry import LossLog


@dataclass
class TrainResult:
    weights: dict[str, torch.Tensor]  # the weights to sample with (EMA when on)
    steps: int
    total_steps: int
    epochs: float
    final_loss: float | None
    final_val_loss: float | None
    elapsed_s: float
    stopped_by_budget: bool
    resumed_from: int | None
    history: list[dict[str, Any]] = field(default_factory=list)


def training_config(p: DDPMParams) -> dict[str, Any]:
    d = params_to_dict(p)
    return {k: d[k] for k in TRAINING_FIELDS if k in d}  # `added_later` fields at their default are not in d


def _seed_for(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix-style), so streams for different (seed, step, ...) differ."""
    h = 0x9E3779B97F4A7C15
    for x in parts:
        h = (h ^ (x & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class IndexStream:
    """Training order as an endless concatenation of per-epoch permutations; any position is computable,
    so resuming needs no data-loader state. (The cohort is already one in-memory tensor, so a
    DataLoader would only add the sampler state we avoid here.)"""

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self._cache: dict[int, torch.Tensor] = {}

    def perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._cache:
            if len(self._cache) > 4:
                self._cache.clear()
            g = torch.Generator().manual_seed(_seed_for(self.seed, 1, epoch))
            self._cache[epoch] = torch.randperm(self.n, generator=g)
        return self._cache[epoch]

    def take(self, start: int, count: int) -> torch.Tensor:
        pos = torch.arange(start, start + count)
        return torch.stack([self.perm(int(p) // self.n)[int(p) % self.n] for p in pos])


@contextlib.contextmanager
def deterministic_mode(on: bool) -> Iterator[None]:
    """torch deterministic algorithms while training (restored afterwards: it is process-global)."""
    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    bench = torch.backends.cudnn.benchmark
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)  # warn, not fail, where none exists
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)
        torch.backends.cudnn.benchmark = bench


def lr_at(p: DDPMParams, step: int) -> float:
    """Linear warm-up over `warmup_steps`, then constant (the paper: constant 5e-5)."""
    if p.warmup_steps and step < p.warmup_steps:
        return p.lr * (step + 1) / p.warmup_steps
    return p.lr


def make_accelerator(p: DDPMParams, device: str, workdir: Path, trackers: Any) -> Accelerator:
    # Accelerate keeps one process-wide state and refuses a second Accelerator with other settings
    # (mixed precision, cpu); a library may fit several models in one process, so start it afresh.
    # The process group (PartialState) is kept, so this is safe under `accelerate launch` too.
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    return Accelerator(cpu=(device == "cpu"), mixed_precision=p.mixed_precision,
                       gradient_accumulation_steps=p.grad_accum, log_with=trackers,
                       project_dir=str(workdir / "trackers") if trackers else None)


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
                g = torch.Generator().manual_seed(_seed_for(seed, 3, i))
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


@dataclass(frozen=True)
class Start:
    """Where a fine-tuning run starts: its parent's weights (for this network), which parameters stay
    frozen (name prefixes), and a fingerprint of both that a resumed state must match."""

    weights: dict[str, torch.Tensor]
    frozen: tuple[str, ...] = ()
    fingerprint: str = ""


def _moments(x: Any, batch: int = 8) -> dict[str, Any]:
    """Shape, sum and sum of squares (float64); a set on disk is summed a batch of volumes at a time."""
    if isinstance(x, torch.Tensor):
        return {"shape": list(x.shape), "sum": float(x.double().sum()), "sq": float((x.double() ** 2).sum())}
    total, sq = 0.0, 0.0
    for i in range(0, len(x), batch):
        b = x[i:i + batch].double()
        total, sq = total + float(b.sum()), sq + float((b * b).sum())
    return {"shape": list(x.shape), "sum": total, "sq": sq}


def _data_fingerprint(train_x: Volumes, cond: FitConditions | None, start: Start | None = None) -> str:
    """What a resumed state must have been trained on: the volumes and, when conditional, their conditions
    (and, when fine-tuning, the start)."""
    tensors = [train_x] + ([] if cond is None else cond.train.tensors())
    parts = [_moments(x) for x in tensors]
    fp = fingerprint(parts[0] if cond is None else {"volumes": parts[0], "conditions": parts[1:],
                                                    "conditioner": cond.conditioner.to_dict()})
    return fp if start is None else fingerprint({"data": fp, "start": start.fingerprint, "frozen": start.frozen})


def _batch_condition(cond: FitConditions | None, idx: torch.Tensor, dropout: float, g: torch.Generator,
                     device: Any) -> dict[str, torch.Tensor]:
    """The UNet's conditioning arguments for one micro-batch, each volume's condition replaced by the null
    one with probability `dropout` (drawn after the batch's noise, so an unconditional run draws the same)."""
    if cond is None:
        return {}
    c = cond.train.take(idx)
    if dropout:
        c = c.dropped(torch.rand(len(idx), generator=g) < dropout)
    return c.to(device).kwargs()


@dataclass(frozen=True)
class Objective:
    """What one run of the training loop optimises: the ddpm denoiser, or the ldm's autoencoder. The loop
    owns everything else (Accelerate, batches, seeds, EMA, validation cadence, resumable state, logs)."""

    name: str  # the plugin, for messages and trackers ("ddpm", "ldm")
    stage: str  # what the progress line says ("training", "autoencoder")
    build: Callable[[], torch.nn.Module]  # called right after seeding, so every process starts alike
    # loss of one micro-batch: (model, x0 on the device, its indices, the step's generator, step, device)
    loss: Callable[[Any, torch.Tensor, torch.Tensor, torch.Generator, int, Any], torch.Tensor]
    val_loss: Callable[[torch.nn.Module, Volumes, Accelerator], float]
    config: dict[str, Any]  # what a resumed state must have been trained with
    data: str  # fingerprint of what it was trained on


def train(p: DDPMParams, train_x: Volumes, val_x: Volumes | None, workdir: Path, seed: int,
          device: str, resume: bool = True, progress: ProgressFn | None = None,
          trackers: Any = None, cond: FitConditions | None = None, init: Start | None = None,
          name: str = "ddpm") -> TrainResult:
    """Train the denoiser from `train_x` (N×C×D×H×W: volumes in [-1, 1], or an ldm's latents) and, for a
    conditional model, `cond`; resume from `workdir` when it holds a state. With `init`, training begins at
    its weights with its frozen parameters left as they are (fine-tuning); without, from MONAI's seeded
    initialisation."""
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
        kw = _batch_condition(cond, idx, p.condition_dropout, g, dev)
        pred = model(scheduler.add_noise(x0, noise, t), t, **kw)
        return F.mse_loss(pred.float(), training_target(scheduler, x0, noise, t).float())

    def val_loss(model: torch.nn.Module, val: Volumes, accelerator: Accelerator) -> float:
        return validation_loss(model, val, p, seed, accelerator, None if cond is None else cond.val)

    objective = Objective(name, "training", build, loss, val_loss, training_config(p),
                          _data_fingerprint(train_x, cond, init))
    return run_loop(p, objective, train_x, val_x, workdir, seed, device, resume, progress, trackers)


def run_loop(p: DDPMParams, objective: Objective, train_x: Volumes, val_x: Volumes | None,
             workdir: Path, seed: int, device: str, resume: bool = True, progress: ProgressFn | None = None,
             trackers: Any = None) -> TrainResult:
    """The one training loop: `objective` on `train_x` with the optimisation settings of `p` (lr, steps,
    batch, accumulation, clipping, EMA, precision, validation and checkpoint cadence, time budget)."""
    progress = progress or (lambda *a, **k: None)
    workdir = Path(workdir)
    cfg, data_fp, name = objective.config, objective.data, objective.name
    accelerator = make_accelerator(p, device, workdir, trackers)
    main = accelerator.is_main_process
    rank, world = accelerator.process_index, accelerator.num_processes
    with deterministic_mode(p.deterministic):
        torch.manual_seed(seed)  # same initial weights on every process
        model = objective.build()
        ema = (AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(p.ema_decay), use_buffers=True)
               if p.ema_decay is not None else None)
        optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=p.lr)

        step, elapsed_before, resumed_from, done = 0, 0.0, None, False
        state = load_training_state(workdir) if resume else None
        if state is not None:
            groups, meta = state
            diff = config_mismatch(meta.get("config", {}), cfg)
            if diff or meta.get("data") != data_fp:
                what = f"settings {', '.join(diff)}" if diff else "training data"
                raise ConfigError(f"{name}: {workdir} holds a training state from another config ({what} differ)",
                                  "delete that folder or train without resume")
            model.load_state_dict(groups["model"])
            if ema is not None:
                ema.load_state_dict(groups["ema"])
            optimizer.load_state_dict(unflatten_optimizer(groups.get("optimizer", {}), meta["optimizer"]))
            step, elapsed_before, done = int(meta["step"]), float(meta["elapsed_s"]), bool(meta["done"])
            resumed_from = step

        if world > 1:  # every process must resume from the same step (the workdir must be shared)
            starts = gather_object([step])
            if len(set(starts)) != 1:
                raise ConfigError(f"{name}: processes found different training states in {workdir} (steps {starts})",
                                  "put the workdir on a filesystem all processes share")
        n = len(train_x)
        global_batch = p.batch_size * world  # one micro-batch over all processes
        per_step = global_batch * p.grad_accum
        total_steps = p.max_steps if p.max_steps is not None else max(1, math.ceil(p.epochs * n / per_step))
        log = LossLog(workdir / "loss.csv", resume_step=step, enabled=main)
        stopped_by_budget = bool(state[1].get("stopped_by_budget")) if state else False

        train_model: Any = torch.compile(model) if p.compile else model  # compiled: a callable wrapper, not a Module
        train_model, optimizer = accelerator.prepare(train_model, optimizer)
        stream = IndexStream(n, seed)
        sampling_model = ema.module if ema is not None else model
        if trackers:
            accelerator.init_trackers(f"benchgen_{name}", config={k: str(v) for k, v in cfg.items()})

        def checkpoint(is_done: bool) -> None:
            if main:
                opt_tensors, opt_meta = flatten_optimizer(optimizer.state_dict())
                groups = {"model": model.state_dict(), "optimizer": opt_tensors}
                if ema is not None:
                    groups["ema"] = ema.state_dict()
                save_training_state(workdir, step, groups, {
                    "config": cfg, "data": data_fp, "optimizer": opt_meta, "elapsed_s": elapsed(),
                    "done": is_done, "total_steps": total_steps, "stopped_by_budget": stopped_by_budget})
            accelerator.wait_for_everyone()

        t0 = time.perf_counter()

        def elapsed() -> float:
            return elapsed_before + time.perf_counter() - t0

        last_loss: float | None = float(log.rows[-1]["loss"]) if log.rows and log.rows[-1]["loss"] else None
        last_val: float | None = None
        t_rate, s_rate = time.perf_counter(), step
        train_model.train()
        while not done and step < total_steps:
            for g_ in optimizer.param_groups:
                g_["lr"] = lr_at(p, step)  # set directly: Accelerate's scheduler wrapper would step W times
            step_loss = torch.zeros((), device=accelerator.device)
            for micro in range(p.grad_accum):
                start = (step * p.grad_accum + micro) * global_batch + rank * p.batch_size
                idx = stream.take(start, p.batch_size)
                x0 = train_x[idx].to(accelerator.device, non_blocking=True)
                g = torch.Generator().manual_seed(_seed_for(seed, 2, step, micro, rank))
                with accelerator.accumulate(train_model):
                    # Accelerate autocasts the prepared model's forward only; an objective that calls its
                    # submodules (the ldm's encode / decode) needs the context around the whole loss
                    with accelerator.autocast():
                        loss = objective.loss(train_model, x0, idx, g, step, accelerator.device)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and p.clip_grad is not None:
                        accelerator.clip_grad_norm_(train_model.parameters(), p.clip_grad)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                step_loss += loss.detach() / p.grad_accum
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            if world > 1:
                step_loss = accelerator.reduce(step_loss, "mean")
            last_loss = float(step_loss)
            epoch = step * per_step / n
            prev_epoch = (step - 1) * per_step / n
            val_loss = None
            over_budget = p.time_budget_s is not None and elapsed() >= p.time_budget_s
            if world > 1 and p.time_budget_s is not None:  # every process stops at the same step
                over_budget = bool(broadcast(torch.tensor([float(over_budget)], device=accelerator.device),
                                             from_process=0).item())
            last_step = step == total_steps or over_budget
            if val_x is not None and len(val_x) and p.val_every and (
                    int(epoch // p.val_every) > int(prev_epoch // p.val_every) or last_step):
                val_loss = last_val = objective.val_loss(sampling_model, val_x, accelerator)
            log.add(step=step, epoch=round(epoch, 4), loss=last_loss, lr=lr_at(p, step - 1),
                    val_loss=val_loss, elapsed_s=round(elapsed(), 3))
            if trackers:
                accelerator.log({"loss": last_loss, "lr": lr_at(p, step - 1), "epoch": epoch,
                                 **({"val_loss": val_loss} if val_loss is not None else {})}, step=step)
            now = time.perf_counter()
            rate = (step - s_rate) / max(now - t_rate, 1e-9)
            progress(f"{name}: {objective.stage}", step, total_steps, loss=last_loss, steps_per_s=rate)
            if over_budget and step < total_steps:
                stopped_by_budget = True
                break
            if step % p.checkpoint_every == 0 and step < total_steps:
                checkpoint(False)
        if not done:
            checkpoint(True)
        if trackers:
            accelerator.end_training()
        weights = {k: v.detach().cpu().clone() for k, v in sampling_model.state_dict().items()}
        if last_val is None:
            vals = [r["val_loss"] for r in log.rows if r.get("val_loss") not in ("", None)]
            last_val = float(vals[-1]) if vals else None
        return TrainResult(weights=weights, steps=step, total_steps=total_steps, epochs=step * per_step / n,
                           final_loss=last_loss, final_val_loss=last_val, elapsed_s=elapsed(),
                           stopped_by_budget=stopped_by_budget, resumed_from=resumed_from,
                           history=list(log.rows))
