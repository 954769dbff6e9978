"""Peak RSS of `benchgen evaluate` against the number of volumes (issue 15, item 3: it should be flat in n).

    python scripts/evaluate-memory.py --n 100 500 2000 --metric mmd --metric kid --each ...

For each n it writes n real and n synthetic NIfTI volumes of --shape (uncompressed float32 in [0, 1]: smooth
blobs plus noise, seeded) into --work, plus n training volumes when memorization is among the metrics, runs
`benchgen evaluate REAL SYNTH [--train TRAIN]` with the metrics in a child process (one child per metric with
--each) and prints the child's peak resident memory (getrusage of the children) and wall time. Volumes are
reused between calls when their folder already holds n files. With --npy each set is written as one
``N×1×D×H×W`` float32 ``.npy`` instead (benchgen evaluate reads it in place, without converting a folder into
a scratch copy first: half the disk at n = 2,000).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np


def volume(shape: tuple[int, int, int], i: int, offset: float) -> np.ndarray:
    rng = np.random.default_rng(i)
    axes = np.meshgrid(*[np.linspace(-1, 1, s, dtype=np.float32) for s in shape], indexing="ij", sparse=True)
    width = 0.4 + 0.1 * rng.random() + offset
    blob = np.exp(-sum(a ** 2 for a in axes) / (2 * width ** 2))
    return np.clip(blob + 0.05 * rng.random(shape, dtype=np.float32), 0, 1).astype(np.float32)


def cohort(folder: Path, n: int, shape: tuple[int, int, int], offset: float, seed0: int, prefix: str = "vol") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.nii"))) != n:
        for old in folder.glob("*.nii"):
            old.unlink()
        for i in range(n):
            nib.save(nib.Nifti1Image(volume(shape, seed0 + i, offset), np.eye(4)), folder / f"{prefix}-{i:05d}.nii")
    return folder


def volume_file(path: Path, n: int, shape: tuple[int, int, int], offset: float, seed0: int) -> Path:
    """The same volumes as :func:`cohort`, as one .npy (kept when it already holds n of `shape`)."""
    from benchgen.data.mapped import VolumeFile, write_volumes

    if path.exists() and (f := VolumeFile(path)).n == n and f.volume_shape == shape:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    write_volumes(path, (volume(shape, seed0 + i, offset) for i in range(n)), n, shape)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100, 500, 2000])
    ap.add_argument("--shape", type=int, nargs=3, default=[84, 128, 84])
    ap.add_argument("--metric", action="append", default=None, help="repeatable; default mmd")
    ap.add_argument("--param", action="append", default=[], help="METRIC.KEY=VALUE, passed to evaluate")
    ap.add_argument("--each", action="store_true", help="one `benchgen evaluate` per metric (a row each)")
    ap.add_argument("--npy", action="store_true", help="write each set as one .npy instead of a NIfTI folder")
    ap.add_argument("--work", type=Path, default=Path("/tmp/benchgen-memory"))
    args = ap.parse_args()
    shape = tuple(args.shape)
    names = args.metric or ["mmd"]
    print(f"shape {'x'.join(map(str, shape))} · metrics {' '.join(names)} · {' '.join(args.param)}")
    print("n\tmetrics\tpeak RSS (MB)\twall (s)")
    for n in args.n:
        make = ((lambda name, *a: volume_file(args.work / f"{name}.npy", *a)) if args.npy
                else (lambda name, *a: cohort(args.work / name, *a, prefix="train" if "train" in name else "vol")))
        real = make(f"real-{n}", n, shape, 0.0, 0)
        synth = make(f"synth-{n}", n, shape, 0.05, 10**6)
        train = make(f"train-{n}", n, shape, 0.0, 2 * 10**6) if "memorization" in names else None
        for group in ([[m] for m in names] if args.each else [names]):
            peak_mb, wall = measure(real, synth, train if "memorization" in group else None, group, args.param)
            print(f"{n}\t{'+'.join(group)}\t{peak_mb:.0f}\t{wall:.1f}", flush=True)


def measure(real: Path, synth: Path, train: Path | None, metrics: list[str], params: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall s) of one `benchgen evaluate` child; --param values of other metrics are dropped."""
    opts = [x for m in metrics for x in ("--metric", m)]
    opts += [x for p in params if p.split(".")[0] in metrics for x in ("--param", p)]
    opts += ["--train", str(train)] if train is not None else []
    # a fresh interpreter per child: getrusage(RUSAGE_CHILDREN) reports the largest child so far
    cmd = [sys.executable, "-c", "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
           "benchgen", "evaluate", str(real), str(synth), *opts, "--format", "json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(metrics)} on {real}: benchgen evaluate failed:\n{out.stderr[-2000:]}")
    return int(out.stdout.strip().splitlines()[-1]) / 1024, wall


if __name__ == "__main__":
    main()
