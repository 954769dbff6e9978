"""CPU levers of the ddpm family, each as a ratio to the configuration the suites use (a script, not a test:
timings never decide pass/fail). Every number is a median of interleaved repeats in one process (A, B, A, B, ...),
so a machine shared with other work changes the absolute times, not the ratios much.

    python benchmarks/perf/cpu.py precision [--steps 2] [--isa native,AVX512_CORE,AVX2]
        fp32 against bf16 autocast for one training step (forward, backward, Adam; batch 8) and one sampling
        step (a UNet evaluation at the DDIM batch of 48, inference mode) of healthy_t1's quick network at 16×24×16,
        once per oneDNN ISA cap (ONEDNN_MAX_CPU_ISA, set in a fresh process before torch loads). A cap above what
        the CPU has changes nothing: the effective ISA and the kernel oneDNN picks for a bf16 convolution are
        printed beside each row ("torch" = no oneDNN kernel, PyTorch's own reference convolution), and a cap
        that leaves the ISA of a row already timed is not timed again.
    python benchmarks/perf/cpu.py levers [--steps 4]
        eager fp32 against channels_last_3d and torch.compile (inductor; compile time printed) for the same
        training and sampling steps.
    python benchmarks/perf/cpu.py threads [--steps 4]
        one training step per thread setting (torch's default, OMP_WAIT_POLICY=PASSIVE, 1 thread), each in its own
        process, alone and beside a second CPU-bound process (a 2-thread matmul loop): OpenMP threads that spin
        while waiting lose most of their time when another process holds a core.
    python benchmarks/perf/cpu.py sample-batch [--volumes 48] [--batches 8,16,48]
        DDIM sampling seconds per volume of the quick network against sample_batch_size.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve()
SHAPE = (16, 24, 16)


def quick_params(**changes: Any) -> Any:
    sys.path.insert(0, str(HERE.parent))
    from ddpm import quick_params as q  # the suite's own quick profile (benchmarks/perf/ddpm.py)

    return q(**changes)


def interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each callable, called in turn `repeats` times (after one untimed call each)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _steps(variant: str, batch: int, sample_batch: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """(one training step, one sampling step) of the quick network in `variant`: fp32, bf16, channels_last,
    compile."""
    import torch
    import torch.nn.functional as F
    from benchgen_ddpm.network import build_unet
    from benchgen_ddpm.precision import autocast

    p = quick_params()
    torch.manual_seed(0)
    model = build_unet(p)
    x = torch.randn(batch, 1, *SHAPE)
    xs = torch.randn(sample_batch, 1, *SHAPE)
    t = torch.randint(0, 1000, (batch,))
    ts = torch.full((sample_batch,), 500)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]  # (stub lacks it)
        x, xs = x.contiguous(memory_format=torch.channels_last_3d), xs.contiguous(memory_format=torch.channels_last_3d)
    run: Any = torch.compile(model) if variant == "compile" else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    amp = "bf16" if variant == "bf16" else "no"

    def train() -> None:
        model.train()
        opt.zero_grad(set_to_none=True)
        with autocast("cpu", amp):
            out = run(x, t)
        F.mse_loss(out.float(), x).backward()
        opt.step()

    def sample() -> None:
        model.eval()
        with torch.inference_mode(), autocast("cpu", amp):
            run(xs, ts).float()
    return train, sample


# ----------------------------------------------------------------------------------------------- precision
def _isa_probe(env: dict[str, str]) -> dict[str, str]:
    """The ISA oneDNN runs at and the implementation it picks for a bf16 convolution under `env` (the
    ONEDNN_VERBOSE output of a child process)."""
    code = ("import torch\nc = torch.nn.Conv3d(16, 16, 3, padding=1)\nx = torch.randn(2, 16, 8, 8, 8)\nc(x)\n"
            "with torch.autocast('cpu', dtype=torch.bfloat16):\n    c(x)\n")
    out = subprocess.run([sys.executable, "-c", code], env={**env, "ONEDNN_VERBOSE": "1"},
                         capture_output=True, text=True, timeout=300).stdout.splitlines()
    isa = next((ln.split("isa:", 1)[1] for ln in out if ",isa:" in ln), "?")
    convs = [ln.split(",") for ln in out if ",convolution," in ln and ",exec," in ln]
    bf16 = next((c[6] for c in convs if "bf16" in ",".join(c)), "torch")
    return {"isa": isa, "bf16_conv": bf16}


def cmd_precision_child(args: argparse.Namespace) -> None:
    import torch

    fns = {}
    for v in ("fp32", "bf16"):
        fns[f"train {v}"], fns[f"sample {v}"] = _steps(v, 8, args.sample_batch)
    med = interleaved(fns, args.steps)
    print(json.dumps({"medians": med, "threads": torch.get_num_threads()}))


def cmd_precision(args: argparse.Namespace) -> None:
    print(f"quick network at {SHAPE}: training step at batch 8, sampling step at batch {args.sample_batch}; median of "
          f"{args.steps} "
          "interleaved calls; each ISA cap in a fresh process")
    print(f"{'ONEDNN_MAX_CPU_ISA':20s} {'oneDNN ISA':26s} {'bf16 conv':22s} {'train fp32':>10s} {'bf16':>8s} "
          f"{'fp32/bf16':>9s} {'sample fp32':>11s} {'bf16':>8s} {'fp32/bf16':>9s}")
    measured: dict[str, str] = {}  # effective ISA -> the cap whose row measured it
    for isa in args.isa.split(","):
        env = dict(os.environ)
        env.pop("ONEDNN_MAX_CPU_ISA", None)
        if isa != "native":
            env["ONEDNN_MAX_CPU_ISA"] = isa
        probe = _isa_probe(env)
        if probe["isa"] in measured:  # a cap at or above what the CPU has: the same kernels as that row
            print(f"{isa:20s} {probe['isa'][:26]:26s} {probe['bf16_conv'][:22]:22s} the same ISA as "
                  f"{measured[probe['isa']]}: not timed again", flush=True)
            continue
        measured[probe["isa"]] = isa
        out = subprocess.run([sys.executable, str(HERE), "_precision-child", "--steps", str(args.steps),
                              "--sample-batch", str(args.sample_batch)], env=env, capture_output=True, text=True)
        if out.returncode:
            print(f"{isa:20s} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = {**json.loads(out.stdout.strip().splitlines()[-1]), **probe}
        m = r["medians"]
        print(f"{isa:20s} {r['isa'][:26]:26s} {r['bf16_conv'][:22]:22s} {m['train fp32']:10.3f} {m['train bf16']:8.3f} "
              f"{m['train fp32'] / m['train bf16']:9.2f} {m['sample fp32']:11.3f} {m['sample bf16']:8.3f} "
              f"{m['sample fp32'] / m['sample bf16']:9.2f}", flush=True)


# -------------------------------------------------------------------------------------------------- levers
def cmd_levers(args: argparse.Namespace) -> None:
    import torch

    fns, warm = {}, {}
    for v in ("fp32", "channels_last", "compile"):
        t0 = time.perf_counter()
        train, sample = _steps(v, 8, 48)
        train()  # compiles the training graph (forward and backward)
        sample()  # and the inference graph
        warm[v] = time.perf_counter() - t0
        fns[f"train {v}"], fns[f"sample {v}"] = train, sample
    med = interleaved(fns, args.steps)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; quick network at {SHAPE}, fp32; median of "
          f"{args.steps} interleaved calls")
    print(f"{'variant':16s} {'train s/step':>12s} {'speed':>6s} {'sample s/step':>13s} {'speed':>6s} "
          f"{'first calls (s)':>15s}")
    for v in ("fp32", "channels_last", "compile"):
        tr, sa = med[f"train {v}"], med[f"sample {v}"]
        print(f"{v:16s} {tr:12.3f} {med['train fp32'] / tr:6.2f} {sa:13.3f} {med['sample fp32'] / sa:6.2f} "
              f"{warm[v]:15.1f}")


# ------------------------------------------------------------------------------------------------- threads
BUSY = ("import torch\ntorch.set_num_threads(2)\na = torch.randn(1024, 1024)\n"
        "while True:\n    a @ a\n")


def cmd_threads_child(args: argparse.Namespace) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    train, _ = _steps("fp32", 8, 48)
    med = interleaved({"train": train}, args.steps)
    print(json.dumps({"train": med["train"], "threads": torch.get_num_threads()}))


def cmd_threads(args: argparse.Namespace) -> None:
    settings = {"default": ({}, 0), "OMP_WAIT_POLICY=PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, 0),
                "1 thread": ({}, 1)}
    res: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.repeats):  # alternate settings and neighbour, so load changes hit all alike
        for busy in (False, True):
            neighbour = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
            try:
                for name, (env, threads) in settings.items():
                    out = subprocess.run([sys.executable, str(HERE), "_threads-child", "--steps", str(args.steps),
                                          "--threads", str(threads)], env={**os.environ, **env},
                                         capture_output=True, text=True, check=True)
                    res.setdefault((name, busy), []).append(json.loads(out.stdout.strip().splitlines()[-1])["train"])
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
    ref = statistics.median(res[("default", False)])
    print(f"training step of the quick network (batch 8, fp32), median over {args.repeats} × {args.steps} steps; "
          "beside = a 2-thread matmul loop in another process")
    print(f"{'setting':26s} {'alone s/step':>12s} {'beside s/step':>13s} {'beside/alone':>12s} "
          f"{'alone vs default':>16s}")
    for name in settings:
        a, b = statistics.median(res[(name, False)]), statistics.median(res[(name, True)])
        print(f"{name:26s} {a:12.3f} {b:13.3f} {b / a:12.2f} {ref / a:16.2f}")


# -------------------------------------------------------------------------------------------- sample batch
def cmd_sample_batch(args: argparse.Namespace) -> None:
    import tempfile

    import torch
    from benchgen_ddpm.generator import DDPMGenerator
    from benchgen_ddpm.testing import mni_cohort

    from benchgen.interfaces import FitContext

    gen = DDPMGenerator(quick_params(max_steps=1, val_every=0, batch_size=2))
    gen.fit(mni_cohort(4, SHAPE, seed=0), FitContext(workdir=Path(tempfile.mkdtemp(prefix="cpu-sb-")), seed=0))
    base = gen.params
    batches = [int(b) for b in args.batches.split(",")]

    def draw(b: int) -> Callable[[], None]:
        def run() -> None:
            gen.params = dataclasses.replace(base, sample_batch_size=b, inference_steps=args.inference_steps)
            gen.sample(args.volumes, 0)
        return run
    med = interleaved({str(b): draw(b) for b in batches}, args.repeats)
    print(f"DDIM-{args.inference_steps}, {args.volumes} volumes at {SHAPE}, {torch.get_num_threads()} threads; "
          f"median of {args.repeats} interleaved draws")
    for b in batches:
        print(f"sample_batch_size {b:3d}: {med[str(b)] / args.volumes:.4f} s/volume "
              f"({med[str(batches[-1])] / med[str(b)]:.2f}x the speed of {batches[-1]})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("precision", help="fp32 vs bf16, native vs oneDNN ISA caps")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--isa", default="native,AVX512_CORE,AVX2")
    p.add_argument("--sample-batch", type=int, default=48, help="volumes per sampling step (the quick profile's)")
    p.set_defaults(fn=cmd_precision)
    pc = sub.add_parser("_precision-child")
    pc.add_argument("--steps", type=int, default=2)
    pc.add_argument("--sample-batch", type=int, default=48)
    pc.set_defaults(fn=cmd_precision_child)
    lv = sub.add_parser("levers", help="eager vs channels_last_3d vs torch.compile")
    lv.add_argument("--steps", type=int, default=4)
    lv.set_defaults(fn=cmd_levers)
    th = sub.add_parser("threads", help="thread settings alone and beside a busy process")
    th.add_argument("--steps", type=int, default=4)
    th.add_argument("--repeats", type=int, default=2)
    th.set_defaults(fn=cmd_threads)
    tc = sub.add_parser("_threads-child")
    tc.add_argument("--steps", type=int, default=4)
    tc.add_argument("--threads", type=int, default=0)
    tc.set_defaults(fn=cmd_threads_child)
    sb = sub.add_parser("sample-batch", help="DDIM seconds per volume against sample_batch_size")
    sb.add_argument("--volumes", type=int, default=48)
    sb.add_argument("--batches", default="8,16,48")
    sb.add_argument("--inference-steps", type=int, default=10)
    sb.add_argument("--repeats", type=int, default=2)
    sb.set_defaults(fn=cmd_sample_batch)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
