"""DDPM plugin benchmarks (a script, not a test: timings never decide pass/fail).

    python benchmarks/perf/ddpm.py quick [--out DIR] [--montage docs/img/ddpm_quick_montage.png]
        trains the suite's `quick` profile from scratch on MNI152-derived volumes (or on the data of a
        suite's quick profile with --suite benchmarks/healthy_t1.toml), samples with DDIM-50 and prints
        the brain-shape checks and timings.
    python benchmarks/perf/ddpm.py speed [--repeats 3] [--steps 6]
        plugin training step vs a plain loop written as MONAI's 3D DDPM tutorial writes it (same model,
        batch, size, dtype), with and without SDPA, interleaved A,B,A,B; FLOPs with FlopCounterMode;
        sampling seconds per volume for DDPM-1000 vs DDIM-50/100/250.

The machine may be shared: compare the ratios measured within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from benchgen_ddpm.generator import DDPMGenerator
from benchgen_ddpm.params import DDPMParams

from benchgen.interfaces import FitContext

# The suite's quick profile (benchmarks/healthy_t1.toml, [profiles.quick.generators.ddpm.params]).
QUICK = dict(
    channels=(16, 32, 64), attention_levels=(False, False, True), num_head_channels=(0, 0, 64),
    num_res_blocks=1, norm_num_groups=16, prediction_type="v_prediction", lr=3e-3, warmup_steps=50,
    max_steps=950, batch_size=8, ema_decay=0.99, val_every=10, checkpoint_every=100, time_budget_s=300.0,
    sampler="ddim", inference_steps=50, eta=0.0, sample_batch_size=48,
)
QUICK_SHAPE = (16, 24, 16)


def _data(n_train: int, n_val: int, n_test: int, suite: str | None):
    """(train, val, test) cohorts: the suite's quick-profile splits (its dataset source and preprocessing,
    through the runner's cached loader) or, without a suite, MNI152-derived volumes."""
    if suite:
        from benchgen.runner import load_data
        from benchgen.suite import load_suite

        splits = load_data(load_suite(suite, "quick")).splits
        return splits.train, splits.val, splits.test
    from benchgen_ddpm.testing import mni_cohort

    return (mni_cohort(n_train, QUICK_SHAPE, seed=0), mni_cohort(n_val, QUICK_SHAPE, seed=1),
            mni_cohort(n_test, QUICK_SHAPE, seed=2))


def cmd_quick(args: argparse.Namespace) -> None:
    from benchgen_ddpm.telemetry import rich_progress
    from benchgen_ddpm.testing import brain_shape_scores

    from benchgen.plots import montage

    train, val, test = _data(180, 60, 60, args.suite)
    params = DDPMParams(**{**QUICK, **json.loads(args.override)})
    gen = DDPMGenerator(params)
    out = Path(args.out or tempfile.mkdtemp(prefix="ddpm-quick-"))
    t0 = time.perf_counter()
    with rich_progress() as progress:
        gen.fit(train, FitContext(workdir=out / "work", seed=0, val=val, progress=progress, resume=args.resume))
        fit_s = time.perf_counter() - t0
        gen.save(out / "checkpoint")
        scores = {}
        for seed in (0, 1):
            t1 = time.perf_counter()
            samples = gen.sample(48, seed, progress=progress).numpy()[:, 0]
            scores[seed] = (time.perf_counter() - t1, brain_shape_scores(samples, test.numpy()))
    info = gen.train_info
    losses = [r["loss"] for r in (info and _rows(out / "work" / "loss.csv"))]
    first, last = np.mean(losses[:50]), np.mean(losses[-50:])
    print(f"trained {info['steps']}/{info['total_steps']} steps in {fit_s:.0f} s "
          f"({info['elapsed_s'] / max(info['steps'], 1):.3f} s/step; budget stop: {info['stopped_by_budget']})")
    print(f"loss: mean of first 50 steps {first:.4f} -> last 50 steps {last:.4f}; val {info['final_val_loss']}")
    for seed, (secs, s) in scores.items():
        print(f"seed {seed}: DDIM-{params.inference_steps} 48 volumes in {secs:.1f} s; corr with real mean "
              f"min {s['corr'].min():.3f} mean {s['corr'].mean():.3f}; background > 0: "
              f"mean {100 * s['background_frac'].mean():.2f} % max {100 * s['background_frac'].max():.2f} %")
    if args.montage:
        montage([("real", test.numpy()), ("ddpm", samples)], args.montage, n=4,
                title=f"quick profile, 16×24×16: real vs DDIM-{params.inference_steps} samples")
        import shutil

        shutil.copyfile(out / "work" / "loss.png", Path(args.montage).with_name("ddpm_quick_loss.png"))
        print(f"montage -> {args.montage}")
    print(f"checkpoint -> {out / 'checkpoint'}")


def _rows(path: Path) -> list[dict]:
    from benchgen_ddpm.telemetry import read_losses

    return read_losses(path)


# --------------------------------------------------------------------------------------------- speed
def tutorial_loop(model: torch.nn.Module, data: torch.Tensor, batch_size: int, steps: int) -> list[float]:
    """A training loop written the way MONAI's 3D DDPM tutorial writes it (DiffusionInferer, DataLoader,
    Adam 5e-5, epsilon MSE; its autocast/GradScaler are CUDA-only and no-ops on CPU). Seconds per step."""
    import torch.nn.functional as F
    from monai.inferers import DiffusionInferer
    from monai.networks.schedulers import DDPMScheduler
    from torch.utils.data import DataLoader, TensorDataset

    scheduler = DDPMScheduler(num_train_timesteps=1000, schedule="scaled_linear_beta", beta_start=0.0005,
                              beta_end=0.0195)
    inferer = DiffusionInferer(scheduler)
    optimizer = torch.optim.Adam(params=model.parameters(), lr=5e-5)
    loader = DataLoader(TensorDataset(data), batch_size=batch_size, shuffle=True, drop_last=True)
    device = torch.device("cpu")
    times: list[float] = []
    model.train()
    while len(times) < steps:
        for (images,) in loader:
            t0 = time.perf_counter()
            images = images.to(device)
            optimizer.zero_grad(set_to_none=True)
            noise = torch.randn_like(images).to(device)
            timesteps = torch.randint(0, inferer.scheduler.num_train_timesteps, (images.shape[0],),
                                      device=images.device).long()
            noise_pred = inferer(inputs=images, diffusion_model=model, noise=noise, timesteps=timesteps)
            loss = F.mse_loss(noise_pred.float(), noise.float())
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - t0)
            if len(times) >= steps:
                break
    return times


def plugin_steps(params: DDPMParams, train, steps: int, workdir: Path) -> list[float]:
    """Seconds per optimizer step of the plugin's own loop (from its loss.csv), everything included."""
    import shutil

    from benchgen_ddpm.telemetry import read_losses

    shutil.rmtree(workdir, ignore_errors=True)
    gen = DDPMGenerator(dataclasses.replace(params, max_steps=steps, val_every=0, checkpoint_every=10**6))
    gen.fit(train, FitContext(workdir=workdir, seed=0, resume=False))
    el = [r["elapsed_s"] for r in read_losses(workdir / "loss.csv")]
    return [b - a for a, b in zip(el, el[1:])]


def flops_per_step(params: DDPMParams, shape: tuple[int, int, int], batch: int) -> tuple[float, float]:
    """(forward, forward+backward) FLOPs of one training batch, counted by FlopCounterMode."""
    from benchgen_ddpm.network import build_unet
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):  # shapes only: counting needs no real arithmetic (the paper model is huge)
        model = build_unet(params)
        x = torch.randn(batch, 1, *shape)
        t = torch.randint(0, 1000, (batch,))
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            model(x, t)
    fwd = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        model(x, t).square().mean().backward()
    return float(fwd), float(fc.get_total_flops())


def cmd_speed(args: argparse.Namespace) -> None:
    from benchgen_ddpm.network import build_unet
    from benchgen_ddpm.testing import mni_cohort

    shape = tuple(int(s) for s in args.shape.split(","))
    base = DDPMParams(**{**QUICK, "time_budget_s": None, "ema_decay": None})  # EMA is added below
    train = mni_cohort(64, shape, seed=0)
    data = train.data * 2 - 1
    b = base.batch_size
    fwd, fwdbwd = flops_per_step(base, shape, b)
    paper_fwd, paper_fb = flops_per_step(DDPMParams(), (84, 128, 84), 1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; shape {shape}, batch {b}, fp32")
    print(f"FLOPs per training step (FlopCounterMode): forward {fwd / 1e9:.2f} GFLOP, "
          f"forward+backward {fwdbwd / 1e9:.2f} GFLOP")
    if paper_fwd:  # the reference numbers: 15.4 / 46.2 TFLOP
        print(f"paper model per 84x128x84 volume: forward {paper_fwd / 1e12:.1f} TFLOP, "
              f"forward+backward {paper_fb / 1e12:.1f} TFLOP")
    work = Path(tempfile.mkdtemp(prefix="ddpm-speed-"))
    runs: dict[str, list[float]] = {"plugin (SDPA, EMA)": [], "plain loop + SDPA": [], "plain loop (tutorial)": []}
    for r in range(args.repeats):  # interleaved A, B, C, A, B, C, ... so load changes hit all alike
        runs["plugin (SDPA, EMA)"] += plugin_steps(dataclasses.replace(base, ema_decay=0.99), train,
                                                   args.steps + 2, work / "p")[2:]
        for label, flash in (("plain loop + SDPA", True), ("plain loop (tutorial)", False)):
            torch.manual_seed(r)
            model = build_unet(dataclasses.replace(base, use_flash_attention=flash))
            runs[label] += tutorial_loop(model, data, b, args.steps + 2)[2:]
    med = {k: statistics.median(v) for k, v in runs.items()}
    n_med = len(runs["plain loop + SDPA"])
    print(f"\n{'training step':28s} {'s/step':>8s} {'steps/s':>8s} {'GFLOP/s':>8s}  (median of {n_med})")
    for k, v in med.items():
        print(f"{k:28s} {v:8.3f} {1 / v:8.2f} {fwdbwd / v / 1e9:8.1f}")
    ours = med["plugin (SDPA, EMA)"]
    print(f"ratio plugin / plain+SDPA (speed): {med['plain loop + SDPA'] / ours:.2f}x  (target >= 0.95)")
    print(f"ratio plugin / tutorial    (speed): {med['plain loop (tutorial)'] / ours:.2f}x  (target >= 1.4)")

    # sampling seconds per volume
    gen = DDPMGenerator(dataclasses.replace(base, max_steps=1, val_every=0))
    gen.fit(train, FitContext(workdir=work / "s", seed=0, resume=False))
    n = args.sampling_volumes
    print(f"\nsampling {n} volumes in one batch ({shape})")
    for sampler, steps in (("ddim", 50), ("ddim", 100), ("ddim", 250), ("ddpm", 1000)):
        gen.params = dataclasses.replace(base, sampler=sampler, inference_steps=steps, sample_batch_size=n)
        t0 = time.perf_counter()
        gen.sample(n, 0)
        dt = time.perf_counter() - t0
        print(f"{sampler.upper()}-{steps:<5d} {dt / n:8.3f} s/volume  ({dt:.1f} s)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quick", help="train the quick profile and check the samples")
    q.add_argument("--out", default=None)
    q.add_argument("--montage", default=None)
    q.add_argument("--override", default="{}", help="JSON dict of params to change")
    q.add_argument("--suite", default=None, help="take the data from this suite's quick profile")
    q.add_argument("--resume", action="store_true")
    q.set_defaults(fn=cmd_quick)
    s = sub.add_parser("speed", help="training-step and sampling speed vs the plain MONAI loop")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--steps", type=int, default=6)
    s.add_argument("--shape", default="16,24,16")
    s.add_argument("--sampling-volumes", type=int, default=8)
    s.set_defaults(fn=lambda a: cmd_speed(a))
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
