"""Sanity of the `utility` metric on the phantom: ΔAUC when the "synthetic" set is other real scans of the
population (should help a small real training set), the same scans with their labels swapped (should
hurt), or voxel noise labelled like them (should not help), for several sizes of the real training set.

    python benchmarks/utility_sanity.py --voxel-mm 6 --atrophy 0.3 --train 4,6,8 --noise-seeds 4

Real training pool: phantom seed 10 (the first n healthy and n ftd-like scans); test: seed 11, 20 + 20;
"synthetic": seed 12, 20 + 20 (all of them: ratio 20 / n); bias field off; volumes through crop-pad (the MNI
box) and scale-01.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voxel-mm", type=float, default=6.0)
    ap.add_argument("--atrophy", type=float, default=0.3, help="the phantom's disease (and age) effect size")
    ap.add_argument("--train", default="4,6,8", help="real training scans per class")
    ap.add_argument("--noise-seeds", type=int, default=4)
    ap.add_argument("--features", default="parcels+grid")
    ap.add_argument("--bootstrap", type=int, default=200)
    args = ap.parse_args()
    from benchgen_data.phantom import PhantomParams, chained_cohort

    from benchgen import registry
    from benchgen.interfaces import MetricContext, MetricResult
    from benchgen.volumes import Cohort

    shape = tuple(int(round(s * 4.0 / args.voxel_mm)) for s in (45, 54, 45))  # the MNI box at this size
    sizes = [int(n) for n in args.train.split(",")]

    def phantom(seed: int, n: int) -> Cohort:
        p = PhantomParams(voxel_mm=args.voxel_mm, seed=seed, bias=0.0, atrophy=args.atrophy,
                          conditions={"healthy": n, "ftd-like": n})
        return chained_cohort(p, shape)  # type: ignore[arg-type]

    t0 = time.perf_counter()
    pool, test, extra = phantom(10, max(sizes)), phantom(11, 20), phantom(12, 20)
    print(f"phantom {len(pool) + len(test) + len(extra)} volumes × {'×'.join(map(str, shape))}: "
          f"{time.perf_counter() - t0:.1f} s")
    swapped = Cohort(extra.data, extra.affine, extra.subject_ids,
                     [{**m, "condition": "healthy" if m["condition"] == "ftd-like" else "ftd-like"}
                      for m in extra.metadata])
    ctx = MetricContext(seed=0, conditioning="per-condition")
    by = {c: [i for i, m in enumerate(pool.metadata) if m["condition"] == c] for c in ("healthy", "ftd-like")}

    def cell(r: MetricResult) -> str:
        lo, hi = r.ci or (float("nan"), float("nan"))
        return f"{r.value:+.3f} ({lo:+.2f}, {hi:+.2f})"

    print("| real train | AUC real only | holdout ΔAUC (CI) | swapped labels ΔAUC (CI) | noise ΔAUC, "
          f"{args.noise_seeds} seeds: uniform / inside the brains | AUC synthetic only: holdout / noise (mean) |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        train = pool.subset(by["healthy"][:n] + by["ftd-like"][:n])
        ratio = 20 / n  # every "synthetic" scan
        metric = registry.create("metrics", "utility", {"bootstrap": args.bootstrap, "features": args.features,
                                                        "ratios": [ratio], "ratio": ratio})
        held = metric.score(extra, test, train, ctx)
        bad = metric.score(swapped, test, train, ctx)
        noise, tstr = {}, []
        for masked in (False, True):
            vals = []
            for s in range(args.noise_seeds):
                x = torch.rand(extra.data.shape, generator=torch.Generator().manual_seed(s))
                x = x * (extra.data > 0) if masked else x
                res = metric.score(Cohort(x, extra.affine, extra.subject_ids, extra.metadata), test, train, ctx)
                vals.append(res.value)
                tstr.append(res.details["tstr"]["auc"])
            noise[masked] = " ".join(f"{v:+.2f}" for v in vals)
        print(f"| {n} + {n} | {held.details['trtr']['auc']:.3f} | {cell(held)} | {cell(bad)} | "
              f"{noise[False]} / {noise[True]} | {held.details['tstr']['auc']:.2f} / {sum(tstr) / len(tstr):.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
