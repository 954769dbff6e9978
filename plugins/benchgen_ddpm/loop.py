"""The one training loop on ``accelerate.Accelerator``: one CPU, one GPU, or many via ``accelerate launch``.

It runs an :class:`Objective` (what is trained and its loss: the ddpm's denoiser in ``objective``, the ldm's
autoencoder) with mixed precision, gradient accumulation, clipping, EMA, torch.compile, validation loss,
time budget and resumable checkpoints. Randomness is derived from ``(seed, step)`` rather than carried in
RNG state, so a run resumed from a checkpoint draws exactly the batches (and hands the objective exactly
the generator) the uninterrupted run would have drawn (and, on CPU in deterministic mode, reproduces its
loss trajectory).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import broadcast, gather_object
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from benchgen.errors import ConfigError
from benchgen.hashing import fingerprint
from benchgen.progress import ProgressFn
from benchgen_ddpm.checkpoint import (
    config_mismatch,
    flatten_optimizer,
    load_training_state,
    save_training_state,
    unflatten_optimizer,
)
from benchgen_ddpm.intensity import Volumes
from benchgen_ddpm.seeds import seed_for
from benchgen_ddpm.telemetry import LossLog


class LoopSettings(Protocol):
    """The optimisation settings the loop reads (a ``DDPMParams`` has them all; nothing model-specific)."""

    @property
    def lr(self) -> float: ...
    @property
    def warmup_steps(self) -> int: ...
    @property
    def epochs(self) -> float: ...
    @property
    def max_steps(self) -> int | None: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def grad_accum(self) -> int: ...
    @property
    def clip_grad(self) -> float | None: ...
    @property
    def ema_decay(self) -> float | None: ...
    @property
    def mixed_precision(self) -> str: ...
    @property
    def compile(self) -> bool: ...
    @property
    def val_every(self) -> int: ...
    @property
    def checkpoint_every(self) -> int: ...
    @property
    def time_budget_s(self) -> float | None: ...
    @property
    def deterministic(self) -> bool: ...


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
            g = torch.Generator().manual_seed(seed_for(self.seed, 1, epoch))
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


def lr_at(p: LoopSettings, step: int) -> float:
    """Linear warm-up over `warmup_steps`, then constant (the paper: constant 5e-5)."""
    if p.warmup_steps and step < p.warmup_steps:
        return p.lr * (step + 1) / p.warmup_steps
    return p.lr


def make_accelerator(p: LoopSettings, device: str, workdir: Path, trackers: Any) -> Accelerator:
    # Accelerate keeps one process-wide state and refuses a second Accelerator with other settings
    # (mixed precision, cpu); a library may fit several models in one process, so start it afresh.
    # The process group (PartialState) is kept, so this is safe under `accelerate launch` too.
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    return Accelerator(cpu=(device == "cpu"), mixed_precision=p.mixed_precision,
                       gradient_accumulation_steps=p.grad_accum, log_with=trackers,
                       project_dir=str(workdir / "trackers") if trackers else None)


def moments(x: Any, batch: int = 8) -> dict[str, Any]:
    """Shape, sum and sum of squares (float64); a set on disk is summed a batch of volumes at a time."""
    if isinstance(x, torch.Tensor):
        return {"shape": list(x.shape), "sum": float(x.double().sum()), "sq": float((x.double() ** 2).sum())}
    total, sq = 0.0, 0.0
    for i in range(0, len(x), batch):
        b = x[i:i + batch].double()
        total, sq = total + float(b.sum()), sq + float((b * b).sum())
    return {"shape": list(x.shape), "sum": total, "sq": sq}


def volumes_fingerprint(x: Volumes) -> str:
    """What a resumed state must have been trained on, when that is a set of volumes alone."""
    return fingerprint(moments(x))


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


def run_loop(p: LoopSettings, objective: Objective, train_x: Volumes, val_x: Volumes | None,
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
                g = torch.Generator().manual_seed(seed_for(seed, 2, step, micro, rank))
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
