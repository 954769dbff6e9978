"""ldm plugin benchmarks against the voxel-space ddpm (a script, not a test: timings never decide pass/fail).

    python benchmarks/perf/ldm.py budget [--seconds 300] [--home DIR]
        (a) ldm vs ddpm trained for the same wall-clock budget on the same data: `benchgen run
        benchmarks/latent_t1.toml` (quick profile, 32×40×32) with `time_budget_s` set for both rows (the ldm's
        covers its two stages) and no step limit, beside holdout and gaussian; prints the board (scores with
        bootstrap intervals), the steps each model reached and the seconds per sampled volume.
    python benchmarks/perf/ldm.py memory [--shape 84,128,84] [--steps 2] [--network quick|paper]
        (c) peak RSS and seconds per step of both plugins' training at batch 1, each in its own process:
        the ddpm (healthy_t1's quick network, or the paper's) in voxel space, and the ldm (its autoencoder
        stage, then its denoiser on the latents).
    python benchmarks/perf/ldm.py gpu [--shape 160,224,160] [--steps 5]
        the same as `memory` on a CUDA device with latent_t1's paper-plus networks (peak CUDA memory from
        torch.cuda.max_memory_allocated, s/step), fp32 and bf16. `--device cpu --network quick --shape 32,40,32`
        runs the code on a CPU as a smoke test; its numbers are no GPU result.

The machine may be shared: compare numbers measured within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "benchmarks" / "latent_t1.toml"


def _shape(text: str) -> tuple[int, int, int]:
    parts = tuple(int(s) for s in text.split(","))
    if len(parts) != 3 or any(s < 1 for s in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not D,H,W")
    return parts  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------ (a) budget
def cmd_budget(args: argparse.Namespace) -> None:
    home = Path(args.home or tempfile.mkdtemp(prefix="benchgen-ldm-budget-"))
    sets = []
    for row in ("ddpm", "ldm"):
        sets += ["--set", f"generators.{row}.params.time_budget_s={args.seconds}",
                 "--set", f"generators.{row}.params.max_steps=1000000"]
    cmd = [str(Path(sys.executable).with_name("benchgen")), "run", str(SUITE), "--profile", "quick", "-g", "holdout",
           "-g", "gaussian", "-g", "ddpm", "-g", "ldm", "-g", "ldm-recon", *sets]
    print("$ BENCHGEN_HOME=" + str(home) + " benchgen " + " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env={**os.environ, "BENCHGEN_HOME": str(home)}, capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr[-3000:])
    print(f"run: {time.perf_counter() - t0:.0f} s wall", flush=True)
    print(out.stdout)  # the board of the budgeted configs (a rerun prints it from the store)
    _print_samplers(home / "results.sqlite", args.seconds)


def _print_samplers(db: Path, seconds: float) -> None:
    """Steps each model reached within the budget and seconds per sampled volume (the records' sampler)."""
    from benchgen.results.store import ResultStore

    seen: dict[str, dict[str, Any]] = {}
    for r in ResultStore(db, readonly=True).records("latent_t1", "quick"):
        budget = ((r.get("generator_config") or {}).get("params") or {}).get("time_budget_s")
        if r["generator"] in ("ddpm", "ldm", "ldm-recon") and budget != seconds:
            continue  # the suite's own fixed-step configs, from other runs into the same store
        seen.setdefault(r["generator"], r.get("sampler") or {})
    print(f"{'row':<10} {'trained steps':>20} {'reconstruction':>30} {'s / volume':>11}")
    for gen, s in seen.items():
        latent = s.get("latent") or {}
        ae = latent.get("reconstruction") or s.get("reconstruction") or {}
        rec = f"PSNR {ae['psnr']:.2f} SSIM {ae['ssim']:.3f}" if ae else ""
        steps = f"{s.get('trained_steps', '')}" + (f" + {latent['autoencoder_steps']} (ae)"
                                                   if latent.get("autoencoder_steps") else "")
        spv = s.get("seconds_per_volume")
        print(f"{gen:<10} {steps:>20} {rec:>30} {'' if spv is None else f'{spv:.3g}':>11}")


# ------------------------------------------------------------------------------------------ (c) memory
QUICK_DDPM = dict(channels=[16, 32, 64], attention_levels=[False, False, True], num_head_channels=[0, 0, 64],
                  num_res_blocks=1, norm_num_groups=16, prediction_type="v_prediction", zero_terminal_snr=True)
PAPER_DDPM: dict[str, Any] = {}  # the plugin's defaults are the paper's network
# a 2× autoencoder (two levels) and the quick 2-level latent UNet: at 84×128×84 the latents are 42×64×42×3
QUICK_LDM = dict(ae_channels=[16, 32], ae_latent_channels=3, ae_num_res_blocks=1, ae_norm_num_groups=16,
                 channels=[32, 64], attention_levels=[False, True], num_head_channels=[0, 64], num_res_blocks=1,
                 norm_num_groups=16, prediction_type="v_prediction", zero_terminal_snr=True)
PLUS_LDM = dict(ae_channels=[64, 128, 128, 128], ae_latent_channels=3, ae_num_res_blocks=2, ae_norm_num_groups=32,
                channels=[256, 512, 768], attention_levels=[False, True, True], num_head_channels=[0, 512, 768],
                num_res_blocks=2)


def _child(plugin: str, params: dict[str, Any], shape: tuple[int, int, int], steps: int, device: str) -> None:
    """Runs in its own process: fit `steps` steps at batch 1 (the ldm: as many for each stage) and print
    one JSON line with the peak memory and the seconds per step of each stage."""
    import torch
    from benchgen_ddpm.testing import mni_cohort

    from benchgen import registry
    from benchgen.interfaces import FitContext

    train = mni_cohort(2, shape, seed=0)
    common = dict(batch_size=1, max_steps=steps, val_every=0, checkpoint_every=10_000, sampler="ddim",
                  inference_steps=10, device=device)
    if plugin == "ldm":
        common.update(ae_batch_size=1, ae_max_steps=steps, reconstruction_volumes=1)
    gen = registry.create("generators", plugin, {**params, **common})
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        gen.fit(train, FitContext(workdir=work, seed=0))
        total = time.perf_counter() - t0
    info = gen.train_info
    ae = info.get("autoencoder", {})
    out = {"plugin": plugin, "shape": list(shape), "steps": steps, "fit_s": round(total, 2),
           "denoiser_s_per_step": round(info["elapsed_s"] / max(info["steps"], 1), 3),
           "autoencoder_s_per_step": round(ae["elapsed_s"] / max(ae["steps"], 1), 3) if ae.get("steps") else None,
           "latent_shape": ae.get("latent_shape"),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}
    if device == "cuda":
        out["peak_cuda_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print("RESULT " + json.dumps(out), flush=True)


def _in_child(plugin: str, params: dict[str, Any], shape: tuple[int, int, int], steps: int,
              device: str = "cpu") -> dict[str, Any]:
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import ldm; "
            f"ldm._child({plugin!r}, {params!r}, {shape!r}, {steps}, {device!r})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        return {"plugin": plugin, "error": (out.stderr.strip().splitlines() or ["killed"])[-1][:200],
                "returncode": out.returncode}
    return json.loads(lines[-1][7:])


def _table(results: list[dict[str, Any]]) -> None:
    print("| plugin | latent | s/step (autoencoder) | s/step (denoiser) | peak RSS | peak CUDA |")
    print("|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['plugin']} | | | | failed: {r['error']} (exit {r['returncode']}) | |")
            continue
        lat = "×".join(map(str, r["latent_shape"])) if r.get("latent_shape") else "voxels"
        print(f"| {r['plugin']} | {lat} | {r['autoencoder_s_per_step'] or ''} | {r['denoiser_s_per_step']} | "
              f"{r['peak_rss_gb']} GB | {r.get('peak_cuda_gb', '')} |")


def cmd_memory(args: argparse.Namespace) -> None:
    ddpm = QUICK_DDPM if args.network == "quick" else PAPER_DDPM
    ldm = QUICK_LDM if args.network == "quick" else PLUS_LDM
    print(f"training at batch 1, {args.steps} steps per stage, shape {args.shape}, {args.network} networks, "
          f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}", flush=True)
    _table([_in_child("ddpm", ddpm, args.shape, args.steps), _in_child("ldm", ldm, args.shape, args.steps)])


def cmd_gpu(args: argparse.Namespace) -> None:
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu: no CUDA device (use --device cpu --network quick --shape 32,40,32 for a smoke test)")
    ddpm = QUICK_DDPM if args.network == "quick" else PAPER_DDPM
    ldm = QUICK_LDM if args.network == "quick" else PLUS_LDM
    results = []
    for precision in ("no", "bf16"):
        for plugin, params in (("ddpm", ddpm), ("ldm", ldm)):
            r = _in_child(plugin, {**params, "mixed_precision": precision}, args.shape, args.steps, args.device)
            r["plugin"] = f"{plugin} ({'fp32' if precision == 'no' else precision})"
            results.append(r)
    _table(results)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("budget", help="(a) ldm vs ddpm for the same wall-clock budget")
    b.add_argument("--seconds", type=float, default=300)
    b.add_argument("--home", help="BENCHGEN_HOME of the run (default: a new temporary folder)")
    m = sub.add_parser("memory", help="(c) peak memory of both plugins' training at batch 1")
    m.add_argument("--shape", type=_shape, default=(84, 128, 84))
    m.add_argument("--steps", type=int, default=2)
    m.add_argument("--network", choices=("quick", "paper"), default="quick")
    g = sub.add_parser("gpu", help="the memory and speed rows on a CUDA device")
    g.add_argument("--shape", type=_shape, default=(160, 224, 160))
    g.add_argument("--steps", type=int, default=5)
    g.add_argument("--network", choices=("quick", "paper"), default="paper")
    g.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    args = ap.parse_args(argv)
    {"budget": cmd_budget, "memory": cmd_memory, "gpu": cmd_gpu}[args.cmd](args)


if __name__ == "__main__":
    main()
