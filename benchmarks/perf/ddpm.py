"""DDPM plugin benchmarks (a script, not a test: timings never decide pass/fail).

    python benchmarks/perf/ddpm.py quick [--out DIR] [--montage FILE.png] [--suite benchmarks/healthy_t1.toml]
        trains the suite's `quick` profile from scratch on MNI152-derived volumes (or on the data of a
        suite's quick profile with --suite benchmarks/healthy_t1.toml), samples with DDIM-50 and prints
        the brain-shape checks and timings.
    python benchmarks/perf/ddpm.py suite-samples [--suite benchmarks/healthy_t1.toml] [--profile quick]
        the same brain-shape checks on the DDPM samples a `benchgen run` of the suite wrote (NIfTI under
        $BENCHGEN_HOME/runs/<suite>/<profile>/samples/ddpm), against the suite's test split.
    python benchmarks/perf/ddpm.py kernels [--shape 16,24,16] [--batch 8] [--steps 15]
        the raw training step with MONAI attention, SDPA, channels_last_3d, torch.compile and bf16
        autocast, interleaved, and the profiler's share of convolutions and attention in it.
    python benchmarks/perf/ddpm.py speed [--repeats 3] [--steps 6] [--shape 16,24,16] [--batch 8]
        plugin training step vs a plain loop written as MONAI's 3D DDPM tutorial writes it (same model,
        batch, size, dtype), with and without SDPA, interleaved A,B,A,B; FLOPs with FlopCounterMode;
        sampling seconds per volume for DDPM-1000 vs DDIM-50/100/250.
    python benchmarks/perf/ddpm.py gpu [--shape 84,128,84] [--batch 1] [--steps 10] [--max-batch 64]
        on a CUDA device: the plugin's training step with the paper's network in fp32 (MONAI attention),
        fp32 + SDPA and bf16 + SDPA (s/step, TFLOP/s, utilisation of the card's peak, peak memory), then the
        largest batch that fits at that size for fp32 + SDPA and bf16 + SDPA (each try in its own process).
        `--device cpu --network quick --shape 16,24,16` runs the same code on a CPU as a smoke test.
    python benchmarks/perf/ddpm.py conditional [--steps 15] [--repeats 2] [--threads N] [--samples 8]
        seconds per training step of the suite's quick network (16×24×16, batch 8) unconditional vs
        conditioned on condition, age and sex, interleaved A,B,A,B in one process; then DDIM sampling seconds
        per volume unconditional, conditional and with classifier-free guidance (a doubled batch).

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

SUITE = Path(__file__).resolve().parents[1] / "healthy_t1.toml"


def quick_params(**changes) -> DDPMParams:
    """The ddpm params of the suite's `quick` profile (benchmarks/healthy_t1.toml), with changes."""
    from benchgen.suite.load import load_suite

    spec = next(g for g in load_suite(SUITE, "quick").generators.values() if g.plugin == "ddpm")
    return dataclasses.replace(spec.params, **changes)


QUICK_SHAPE = (16, 24, 16)


def volume_shape(text: str) -> tuple[int, int, int]:
    """--shape D,H,W: three positive integers, each divisible by 4 (the quick and paper UNets have 3 levels)."""
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or any(s <= 0 or s % 4 for s in shape):
        raise argparse.ArgumentTypeError(f"{text!r} is not D,H,W with each side a positive multiple of 4 "
                                         "(e.g. 16,24,16 or 84,128,84)")
    return shape  # type: ignore[return-value]


def _data(n_train: int, n_val: int, n_test: int, suite: str | None):
    """(train, val, test) cohorts: the suite's quick-profile splits (its dataset source and preprocessing,
    through the runner's cached loader) or, without a suite, MNI152-derived volumes."""
    if suite:
        from benchgen.data.load import load_data
        from benchgen.suite.load import load_suite

        splits = load_data(load_suite(suite, "quick")).splits
        return splits.train, splits.val, splits.test
    from benchgen_ddpm.testing import mni_cohort

    return (mni_cohort(n_train, QUICK_SHAPE, seed=0), mni_cohort(n_val, QUICK_SHAPE, seed=1),
            mni_cohort(n_test, QUICK_SHAPE, seed=2))


def cmd_quick(args: argparse.Namespace) -> None:
    from benchgen_ddpm.telemetry import rich_progress
    from benchgen_ddpm.testing import brain_shape_scores

    from benchgen.figures import montage

    train, val, test = _data(180, 60, 60, args.suite)
    params = quick_params(**json.loads(args.override))
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
        print_brain_shape(s, test, f"seed {seed}: DDIM-{params.inference_steps} 48 volumes in {secs:.1f} s; ")
    if args.montage:
        montage([("real", test.numpy()), ("ddpm", samples)], args.montage, n=4,
                title=f"quick profile, 16×24×16: real vs DDIM-{params.inference_steps} samples")
        import shutil

        shutil.copyfile(out / "work" / "loss.png", Path(args.montage).with_name("ddpm_quick_loss.png"))
        print(f"montage -> {args.montage}")
    print(f"checkpoint -> {out / 'checkpoint'}")


def print_brain_shape(s: dict[str, np.ndarray], test, head: str) -> None:
    """The two brain-shape measures and the checks that tissue was not erased, on two lines."""
    from benchgen_ddpm.testing import brain_shape_scores

    dark_real = 100 * brain_shape_scores(test.numpy(), test.numpy())["dark_core_frac"].mean()
    print(f"{head}corr with real mean min {s['corr'].min():.3f} mean {s['corr'].mean():.3f}; background > 0: "
          f"mean {100 * s['background_frac'].mean():.2f} % max {100 * s['background_frac'].max():.2f} %; "
          f"brain core > 0: mean {100 * s['tissue_frac'].mean():.2f} % min {100 * s['tissue_frac'].min():.2f} %")
    print(f"        clear tissue == 0: {100 * s['clear_tissue_zero'].mean():.2f} %; brain core < 0.01: "
          f"{100 * s['dark_core_frac'].mean():.1f} % (real test volumes: {dark_real:.1f} %)")


def cmd_suite_samples(args: argparse.Namespace) -> None:
    from benchgen_ddpm.testing import brain_shape_scores

    from benchgen import paths
    from benchgen.data.load import load_data
    from benchgen.suite.load import load_suite
    from benchgen.volumes import read_nifti

    suite = load_suite(args.suite, args.profile)
    folder = paths.runs_dir() / suite.name / suite.profile / "samples" / args.label
    files = sorted(folder.glob("*.nii*"))
    if not files:
        sys.exit(f"no samples under {folder}: run `benchgen run {args.suite}` first")
    vols = [read_nifti(f) for f in files]
    test = load_data(suite).splits.test
    bad = [f.name for f, v in zip(files, vols) if v.array.shape != test.shape]
    print(f"{len(files)} NIfTI samples in {folder}, shape {vols[0].array.shape} (suite: {test.shape}); "
          f"wrong shape: {bad or 'none'}; affine equals the data's: "
          f"{all(np.allclose(v.affine, test.affine) for v in vols)}")
    print_brain_shape(brain_shape_scores(np.stack([v.array for v in vols]), test.numpy()), test,
                      f"against the {len(test)} real test volumes: ")


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


def _loop_in_child(label: str, shape: tuple[int, int, int], batch: int, steps: int, seed: int) -> dict:
    """One training loop in a fresh process, so its peak RSS is its own. Seconds per step after warm-up
    are returned with the process's peak resident memory."""
    import resource

    from benchgen_ddpm.network import build_unet
    from benchgen_ddpm.testing import mni_cohort

    base = quick_params(time_budget_s=None, ema_decay=None, batch_size=batch)
    train = mni_cohort(max(2 * batch, 4), shape, seed=0)
    if label == PLUGIN:
        times = plugin_steps(dataclasses.replace(base, ema_decay=0.99), train, steps,
                             Path(tempfile.mkdtemp(prefix="ddpm-speed-")))
    else:
        torch.manual_seed(seed)
        model = build_unet(dataclasses.replace(base, use_flash_attention=(label == PLAIN_SDPA)))
        times = tutorial_loop(model, train.data * 2 - 1, batch, steps)
    return {"times": times, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


PLUGIN, PLAIN_SDPA, TUTORIAL = "plugin (SDPA, EMA)", "plain loop + SDPA", "plain loop (tutorial)"


def conv_ceiling() -> float:
    """FLOP/s of one large fp32 3x3x3 convolution, forward and backward: what oneDNN reaches on this CPU
    at best, the denominator of the utilisation we print (a CPU has no vendor MFU peak we can trust)."""
    from torch.utils.flop_counter import FlopCounterMode

    conv = torch.nn.Conv3d(64, 64, 3, padding=1)
    x = torch.randn(4, 64, 32, 32, 32, requires_grad=True)
    with FlopCounterMode(display=False) as fc:
        conv(x).sum().backward()
    conv(x).sum().backward()  # warm-up: oneDNN picks and caches its kernels on the first call
    best = float("inf")
    for _ in range(6):
        t0 = time.perf_counter()
        conv(x).sum().backward()
        best = min(best, time.perf_counter() - t0)
    return fc.get_total_flops() / best


def cmd_speed(args: argparse.Namespace) -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    shape = args.shape
    b = args.batch
    base = quick_params(batch_size=b)
    fwd, fwdbwd = flops_per_step(base, shape, b)
    paper_fwd, paper_fb = flops_per_step(DDPMParams(), (84, 128, 84), 1)
    ceiling = conv_ceiling()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; quick network {base.channels}; "
          f"shape {shape}, batch {b}, fp32")
    print(f"FLOPs per training step (FlopCounterMode): forward {fwd / 1e9:.2f} GFLOP, "
          f"forward+backward {fwdbwd / 1e9:.2f} GFLOP")
    print(f"paper model per 84x128x84 volume: forward {paper_fwd / 1e12:.1f} TFLOP, "
          f"forward+backward {paper_fb / 1e12:.1f} TFLOP")
    print(f"conv ceiling (one large fp32 Conv3d 64->64, fwd+bwd): {ceiling / 1e9:.0f} GFLOP/s")
    runs: dict[str, list[float]] = {PLUGIN: [], PLAIN_SDPA: [], TUTORIAL: []}
    rss: dict[str, list[float]] = {k: [] for k in runs}
    by_repeat: dict[str, list[list[float]]] = {k: [] for k in runs}
    spawn = get_context("spawn")
    for r in range(args.repeats):  # interleaved A, B, C, A, B, C, ... so load changes hit all alike
        for label in runs:
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                out = pool.submit(_loop_in_child, label, shape, b, args.steps + args.warmup, r).result()
            runs[label] += out["times"][args.warmup:]
            by_repeat[label].append(out["times"][args.warmup:])
            rss[label].append(out["peak_rss_gb"])
            print(f"  repeat {r} {label}: {statistics.median(out['times'][args.warmup:]):.3f} s/step, "
                  f"peak RSS {out['peak_rss_gb']:.2f} GB", flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\n{'training step':24s} {'s/step':>8s} {'steps/s':>8s} {'GFLOP/s':>8s} {'of ceiling':>10s} "
          f"{'peak RSS':>9s}  (median of {len(runs[PLUGIN])} steps)")
    for k, v in med.items():
        print(f"{k:24s} {v:8.3f} {1 / v:8.2f} {fwdbwd / v / 1e9:8.1f} {fwdbwd / v / ceiling:10.0%} "
              f"{max(rss[k]):7.2f} GB")
    ours = med[PLUGIN]
    for other, target in ((PLAIN_SDPA, 0.95), (TUTORIAL, 1.4)):
        # the same ratio within each repeat (the loops of one repeat ran back to back): its spread shows
        # how much of the result is the shared machine
        per = sorted(statistics.median(o) / statistics.median(m) for o, m in zip(by_repeat[other], by_repeat[PLUGIN]))
        print(f"speed plugin / {other}: {med[other] / ours:.2f}x (per repeat {per[0]:.2f}-{per[-1]:.2f}x, "
              f"target >= {target})")
    if args.sampling_volumes:
        _sampling_speed(base, shape, args.sampling_volumes)


def _sampling_speed(base: DDPMParams, shape: tuple[int, int, int], n: int) -> None:
    """Seconds per volume of DDPM-1000 vs DDIM-50/100/250 (an untrained network costs the same)."""
    from benchgen_ddpm.testing import mni_cohort

    train = mni_cohort(4, shape, seed=0)
    work = Path(tempfile.mkdtemp(prefix="ddpm-speed-"))
    gen = DDPMGenerator(dataclasses.replace(base, max_steps=1, val_every=0, batch_size=2, time_budget_s=None))
    gen.fit(train, FitContext(workdir=work / "s", seed=0, resume=False))
    print(f"\nsampling {n} volumes in one batch ({shape})")
    for sampler, steps in (("ddim", 50), ("ddim", 100), ("ddim", 250), ("ddpm", 1000)):
        gen.params = dataclasses.replace(base, sampler=sampler, inference_steps=steps, sample_batch_size=n)
        t0 = time.perf_counter()
        gen.sample(n, 0)
        dt = time.perf_counter() - t0
        print(f"{sampler.upper()}-{steps:<5d} {dt / n:8.3f} s/volume  ({dt:.1f} s)")


def cmd_kernels(args: argparse.Namespace) -> None:
    """Raw forward+backward+Adam step of the quick network under kernel and layout variants, interleaved,
    as ratios to MONAI's own attention in fp32; then where the fp32 step's time goes (torch.profiler)."""
    import torch.nn.functional as F
    from benchgen_ddpm.network import build_unet

    shape = args.shape
    base = quick_params(batch_size=args.batch)
    x = torch.randn(args.batch, 1, *shape)
    t = torch.randint(0, 1000, (args.batch,))

    def make(variant: str):
        torch.manual_seed(0)
        model = build_unet(dataclasses.replace(base, use_flash_attention=variant != "fp32 (MONAI attention)"))
        inp = x
        if variant == "channels_last_3d":
            model, inp = model.to(memory_format=torch.channels_last_3d), x.contiguous(
                memory_format=torch.channels_last_3d)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        run = torch.compile(model) if variant == "torch.compile" else model
        amp = (torch.autocast("cpu", dtype=torch.bfloat16) if variant == "bf16 autocast (other dtype)"
               else torch.autocast("cpu", enabled=False))

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            with amp:
                out = run(inp, t)
            F.mse_loss(out.float(), inp).backward()
            opt.step()
        t0 = time.perf_counter()
        step(), step()  # warm-up (and compilation)
        return step, time.perf_counter() - t0

    variants = ["fp32 (MONAI attention)", "SDPA", "channels_last_3d", "torch.compile", "bf16 autocast (other dtype)"]
    steps, warm = {}, {}
    for v in variants:
        steps[v], warm[v] = make(v)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.steps):  # interleaved, one step of each in turn
        for v in variants:
            t0 = time.perf_counter()
            steps[v]()
            times[v].append(time.perf_counter() - t0)
    ref = statistics.median(times[variants[0]])
    print(f"quick network at {shape}, batch {args.batch}, {torch.get_num_threads()} threads; "
          f"median of {args.steps} interleaved steps")
    for v in variants:
        med = statistics.median(times[v])
        print(f"{v:30s} {med:.4f} s/step  speed {ref / med:.2f}x  (warm-up {warm[v]:.1f} s)")
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(3):
            steps[variants[0]]()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events if "convolution" in e.key)
    attn = sum(e.self_cpu_time_total for e in events if e.key in ("aten::bmm", "aten::baddbmm", "aten::_softmax",
                                                                     "aten::_softmax_backward_data"))
    print(f"fp32 step (torch.profiler, self CPU time): convolutions {conv / total:.0%}, "
          f"attention matmuls + softmax {attn / total:.1%}")


# ----------------------------------------------------------------------------------------------- gpu
# Dense peak TFLOP/s by card and dtype, from the vendors' data sheets (SXM parts). fp32 convolutions run as
# TF32 on tensor cores under PyTorch's default (torch.backends.cudnn.allow_tf32 = True), hence the TF32 peak.
PEAK_TFLOPS = {"H100": {"bf16": 989.4, "tf32": 494.7}, "H200": {"bf16": 989.4, "tf32": 494.7},
               "A100": {"bf16": 312.0, "tf32": 156.0}}
GPU_VARIANTS = {"fp32, MONAI attention": (False, "no"), "fp32 + SDPA": (True, "no"), "bf16 + SDPA": (True, "bf16")}


def _gpu_params(network: str, variant: str, batch: int, device: str) -> DDPMParams:
    flash, precision = GPU_VARIANTS[variant]
    base = DDPMParams() if network == "paper" else quick_params()
    return dataclasses.replace(base, use_flash_attention=flash, mixed_precision=precision, batch_size=batch,
                               device=device, ema_decay=None, time_budget_s=None, num_threads=None)


def _gpu_child(network: str, variant: str, shape: tuple[int, int, int], batch: int, steps: int,
               device: str) -> dict:
    """The plugin's own fit for `steps` optimizer steps in this (fresh) process: seconds per step, peak
    memory, or {"oom": True} when the batch does not fit."""
    import resource

    from benchgen_ddpm.testing import mni_cohort

    params = _gpu_params(network, variant, batch, device)
    train = mni_cohort(batch, shape, seed=0)
    try:
        times = plugin_steps(params, train, steps, Path(tempfile.mkdtemp(prefix="ddpm-gpu-")))
    except torch.OutOfMemoryError:
        return {"oom": True}
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"oom": False, "times": times, "peak_gb": peak}


def cmd_gpu(args: argparse.Namespace) -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu: no CUDA device on this machine (use --device cpu for a smoke run of the same code)")
    shape = args.shape
    spawn = get_context("spawn")

    def run(variant: str, batch: int, steps: int) -> dict:
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:  # a fresh process: clean memory, OOM contained
            return pool.submit(_gpu_child, args.network, variant, shape, batch, steps, args.device).result()

    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    peaks = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    _, fwdbwd = flops_per_step(_gpu_params(args.network, "fp32 + SDPA", 1, args.device), shape, 1)
    print(f"{name}; torch {torch.__version__}; {args.network} network; shape {shape}; plugin fit, "
          f"{args.steps} timed steps per row; {fwdbwd / 1e12:.2f} TFLOP forward+backward per volume")
    print(f"{'variant':24s} {'batch':>5s} {'s/step':>8s} {'vol/s':>7s} {'TFLOP/s':>8s} {'of peak':>8s} "
          f"{'peak mem':>9s}")
    speed = {}
    for variant in GPU_VARIANTS:
        out = run(variant, args.batch, args.steps + 1)  # the first step (allocator, kernel choice) is dropped
        if out["oom"]:
            print(f"{variant:24s} {args.batch:5d}  out of memory")
            continue
        step = statistics.median(out["times"])
        speed[variant] = step
        tflops = fwdbwd * args.batch / step / 1e12
        peak = peaks and peaks["bf16" if "bf16" in variant else "tf32"]
        print(f"{variant:24s} {args.batch:5d} {step:8.3f} {args.batch / step:7.2f} {tflops:8.3g} "
              f"{(f'{tflops / peak:.0%}' if peak else 'n/a'):>8s} {out['peak_gb']:7.2f} GB")
    if "bf16 + SDPA" in speed and "fp32 + SDPA" in speed:
        print(f"bf16 + SDPA vs fp32 + SDPA: {speed['fp32 + SDPA'] / speed['bf16 + SDPA']:.2f}x")
    if "bf16 + SDPA" in speed and "fp32, MONAI attention" in speed:
        print(f"bf16 + SDPA vs fp32 with MONAI attention: {speed['fp32, MONAI attention'] / speed['bf16 + SDPA']:.2f}x")
    for variant in ("fp32 + SDPA", "bf16 + SDPA"):
        fits, too_big, peak_gb = 0, None, None
        batch = 1
        while batch <= args.max_batch:  # double until it fails, then bisect between the last fit and the failure
            out = run(variant, batch, 2)
            if out["oom"]:
                too_big = batch
                break
            fits, peak_gb = batch, out["peak_gb"]
            batch *= 2
        while too_big is not None and too_big - fits > 1:
            mid = (fits + too_big) // 2
            out = run(variant, mid, 2)
            if out["oom"]:
                too_big = mid
            else:
                fits, peak_gb = mid, out["peak_gb"]
        limit = (f"first batch that did not fit: {too_big}" if too_big
                 else f"no failure up to --max-batch {args.max_batch}")
        print(f"largest batch at {shape}, {variant}: {fits} ({peak_gb:.2f} GB peak; {limit})" if fits
              else f"largest batch at {shape}, {variant}: none fits")


COVARIATES = ("condition", "age", "sex")


def _labelled(cohort):
    """The cohort with a condition, an age and a sex per scan (what a conditional fit needs)."""
    from benchgen.volumes import Cohort

    conds = ("healthy", "ftd-like", "als-like")
    meta = [{"condition": conds[i % 3], "age": 45.0 + (7 * i) % 40, "sex": "MF"[i % 2]} for i in range(len(cohort))]
    return Cohort(cohort.data, cohort.affine, cohort.subject_ids, meta)


def _sampling_seconds(gen: DDPMGenerator, table: list[dict], conditional: bool) -> float:
    t0 = time.perf_counter()
    if conditional:
        gen.sample_conditional(table, seed=0)
    else:
        gen.sample(len(table), seed=0)
    return (time.perf_counter() - t0) / len(table)


def cmd_conditional(args: argparse.Namespace) -> None:
    from benchgen_ddpm.testing import mni_cohort

    train = _labelled(mni_cohort(48, QUICK_SHAPE, seed=0))
    base = quick_params(num_threads=args.threads)
    variants = {"unconditional": base,
                "conditional": dataclasses.replace(base, condition_on=COVARIATES, condition_dropout=0.1)}
    times: dict[str, list[float]] = {k: [] for k in variants}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default; quick network at "
          f"{QUICK_SHAPE}, batch {base.batch_size}; {args.repeats} x {args.steps} timed steps each, interleaved")
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeats):
            for name, p in variants.items():  # the first step of each fit is not timed (loss.csv differences)
                times[name] += plugin_steps(p, train, args.steps + 1, Path(d) / "w")
        for name, t in times.items():
            print(f"{name:14s} train  median {statistics.median(t):.3f} s/step, mean {statistics.mean(t):.3f}")
        ratio = statistics.median(times["conditional"]) / statistics.median(times["unconditional"])
        print(f"conditional / unconditional training step: {ratio:.2f}x")
        table = [dict(m) for m in train.metadata[: args.samples]]
        for name, p in variants.items():
            gen = DDPMGenerator(dataclasses.replace(p, max_steps=1, val_every=0))
            gen.fit(train, FitContext(workdir=Path(d) / f"s-{name}", seed=0, resume=False))
            print(f"{name:14s} sample {_sampling_seconds(gen, table, False):.3f} s/volume (DDIM-{p.inference_steps})")
            if name == "conditional":
                gen.save(Path(d) / "cond")
                for scale in (1.0, 3.0):
                    guided = DDPMGenerator(dataclasses.replace(gen.params, guidance_scale=scale))
                    guided.load(Path(d) / "cond")
                    print(f"{'':14s} sample_conditional, guidance {scale}: "
                          f"{_sampling_seconds(guided, table, True):.3f} s/volume")


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
    v = sub.add_parser("suite-samples", help="brain-shape checks on the samples a suite run wrote")
    v.add_argument("--suite", default=str(SUITE))
    v.add_argument("--profile", default="quick")
    v.add_argument("--label", default="ddpm")
    v.set_defaults(fn=cmd_suite_samples)
    k = sub.add_parser("kernels", help="kernel / layout / compile variants of the raw training step")
    k.add_argument("--shape", type=volume_shape, default="16,24,16")
    k.add_argument("--batch", type=int, default=8)
    k.add_argument("--steps", type=int, default=15)
    k.set_defaults(fn=cmd_kernels)
    s = sub.add_parser("speed", help="training-step and sampling speed vs the plain MONAI loop")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--steps", type=int, default=6)
    s.add_argument("--shape", type=volume_shape, default="16,24,16")
    s.add_argument("--batch", type=int, default=8)
    s.add_argument("--warmup", type=int, default=2, help="steps per loop dropped before timing")
    s.add_argument("--sampling-volumes", type=int, default=8, help="0 skips the sampling timings")
    s.set_defaults(fn=lambda a: cmd_speed(a))
    c = sub.add_parser("conditional", help="training-step and sampling cost of conditioning and guidance")
    c.add_argument("--steps", type=int, default=15)
    c.add_argument("--repeats", type=int, default=2)
    c.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    c.add_argument("--samples", type=int, default=8)
    c.set_defaults(fn=cmd_conditional)
    g = sub.add_parser("gpu", help="fp32 vs bf16 + SDPA training steps and the largest batch, on a CUDA device")
    g.add_argument("--shape", type=volume_shape, default="84,128,84")
    g.add_argument("--batch", type=int, default=1)
    g.add_argument("--steps", type=int, default=10)
    g.add_argument("--max-batch", type=int, default=64)
    g.add_argument("--network", choices=("paper", "quick"), default="paper")
    g.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    g.set_defaults(fn=cmd_gpu)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
