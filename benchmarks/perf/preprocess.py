"""Preprocessing speed: the phantom cohorts of the healthy_t1 profiles, and the `paper` chain on 1 mm
inputs with --jobs 1 against --jobs 2 (target: ≥ 1.7×), measured in one run.

    python benchmarks/perf/preprocess.py                 # quick phantom + paper chain (4 volumes per run)
    python benchmarks/perf/preprocess.py --paper-phantom # also 1017 subjects at 2 mm -> 84×128×84
    python benchmarks/perf/preprocess.py --n-paper 8 --skip-quick

Timings include process start-up of the workers and the template loading, as a user sees them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def phantom(n: int, voxel_mm: float, shape: tuple[int, int, int], jobs: int) -> float:
    from benchgen import registry
    from benchgen.data.preprocessing import process_items
    from benchgen.interfaces import PrepContext

    src = registry.create("datasets", "phantom", {"n_subjects": n, "voxel_mm": voxel_mm})
    steps = [registry.create("preprocessors", s) for s in ("crop-pad", "resize", "scale-01")]
    t = time.perf_counter()
    vols, fails = process_items(src, steps, PrepContext(target_shape=shape), jobs=jobs)
    dt = time.perf_counter() - t
    assert len(vols) == n and not fails
    return dt


def _cpu() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def paper(src: Path, work: Path, jobs: int) -> tuple[float, int, list[float], float]:
    from benchgen.data.preprocessing import preprocess_folder

    dst = work / f"paper-j{jobs}"
    shutil.rmtree(dst, ignore_errors=True)
    c, t = _cpu(), time.perf_counter()
    rep = preprocess_folder(src, dst, chain="paper", jobs=jobs)
    dt, cpu = time.perf_counter() - t, _cpu() - c
    import csv

    ncc = [float(r["reg_ncc"]) for r in csv.DictReader((dst / "qc.csv").open()) if r["status"] == "ok"]
    return dt, len(rep.processed), ncc, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-paper", type=int, default=4, help="1 mm volumes per paper-chain run")
    ap.add_argument("--paper-phantom", action="store_true", help="also time 1017 subjects at 2 mm")
    ap.add_argument("--skip-quick", action="store_true")
    ap.add_argument("--skip-paper", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("BENCHGEN_CACHE", tempfile.mkdtemp(prefix="benchgen-cache-"))
    print(f"cpus: {os.cpu_count()}  load average: {os.getloadavg()}")

    if not args.skip_quick:
        dt = phantom(300, 4.0, (16, 24, 16), 1)
        print(f"phantom quick profile: 300 subjects @4 mm -> crop-pad/resize 16x24x16/scale-01, jobs 1: "
              f"{dt:.1f} s ({300 / dt:.1f} volumes/s; budget 30 s)")
    if args.paper_phantom:
        for jobs in (1, 2):
            dt = phantom(1017, 2.0, (84, 128, 84), jobs)
            print(f"phantom paper profile: 1017 subjects @2 mm -> 84x128x84, jobs {jobs}: {dt:.1f} s")

    if not args.skip_paper:
        from benchgen import registry
        from benchgen.data.preprocessing import export_dataset

        work = Path(tempfile.mkdtemp(prefix="benchgen-prep-"))
        try:
            src = work / "raw"
            ph = registry.create("datasets", "phantom", {"n_subjects": args.n_paper, "voxel_mm": 1.0,
                                                         "pose_deg": 8.0, "pose_mm": 8.0, "seed": 3})
            export_dataset(ph, src, layout="flat", jobs=2)
            results = {}
            for jobs in (1, 2):
                load = os.getloadavg()[0]
                dt, n, ncc, cpu = paper(src, work, jobs)
                results[jobs] = n / dt * 60
                print(f"paper chain, {n} volumes @1 mm (197x233x189), jobs {jobs}: {dt:.1f} s = "
                      f"{results[jobs]:.2f} volumes/min; CPU {cpu / n:.1f} s/volume; load before {load:.1f}; "
                      f"registration NCC min {min(ncc):.3f} mean {sum(ncc) / len(ncc):.3f}")
            print(f"speed-up jobs 2 / jobs 1: {results[2] / results[1]:.2f}x (target >= 1.7x)")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
