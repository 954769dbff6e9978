"""Pairwise 3D MS-SSIM within a set: benchgen's shared-statistics implementation vs the per-pair MONAI loop.

    python benchmarks/perf/msssim.py                      # 86 volumes of 84×128×84, kernel 4, 5 scales
    python benchmarks/perf/msssim.py --monai-pairs all    # also run MONAI on every pair (slow)

Ours runs on every pair; MONAI on the first ``--monai-pairs`` pairs (its time is per pair, the total is
extrapolated and labelled as such unless ``all``). Same volumes, same process, same thread count.
Prints per-pair times, the speed-up, the largest difference on the common pairs and ours' peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F


def brains(n: int, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """n×1×D×H×W brain-like volumes in [0, 1]: jittered ellipsoids with smooth texture, background 0."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.stack(torch.meshgrid(*[torch.linspace(-1, 1, s) for s in shape], indexing="ij"))
    out = torch.zeros(n, 1, *shape)
    for k in range(n):
        radii = 0.8 + 0.05 * torch.randn(3, generator=g)
        r2 = sum((grid[a] / radii[a]) ** 2 for a in range(3))
        low = torch.randn(1, 1, *[s // 6 for s in shape], generator=g)
        tex = F.interpolate(low, size=shape, mode="trilinear", align_corners=False)[0, 0]
        vol = (0.6 + 0.15 * tex / tex.std() - 0.25 * torch.exp(-r2 / 0.05)).clamp(0.05, 1.0)
        out[k, 0] = torch.where(r2 < 1.0, vol, torch.zeros(()))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=86)
    ap.add_argument("--shape", type=int, nargs=3, default=[84, 128, 84])
    ap.add_argument("--kernel-size", type=int, default=4)
    ap.add_argument("--scales", type=int, default=5)
    ap.add_argument("--monai-pairs", default="40", help="number of pairs for MONAI, or 'all'")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for ours (ms_ssim_within's default 1)")
    ap.add_argument("--monai-threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()

    from monai.metrics import MultiScaleSSIMMetric

    from benchgen.functional.msssim import all_pairs, ms_ssim_within, msssim_weights

    vols = brains(args.n, tuple(args.shape))
    pairs = all_pairs(args.n)
    print(f"{args.n} volumes of {'×'.join(map(str, args.shape))}, {len(pairs)} pairs, kernel {args.kernel_size}, "
          f"{args.scales} scales; ours on {args.threads} torch thread(s)")
    base = rss_mb()
    t = time.perf_counter()
    ours = ms_ssim_within(vols, kernel_size=args.kernel_size, scales=args.scales, threads=args.threads)
    t_ours = time.perf_counter() - t
    peak = rss_mb()
    print(f"ours : {t_ours:8.1f} s for all {len(pairs)} pairs = {t_ours / len(pairs) * 1e3:7.1f} ms/pair; "
          f"peak RSS {peak / 1024:.2f} GB (input volumes + interpreter {base / 1024:.2f} GB before)")

    m_pairs = len(pairs) if args.monai_pairs == "all" else min(int(args.monai_pairs), len(pairs))
    metric = MultiScaleSSIMMetric(spatial_dims=3, data_range=1.0, kernel_size=args.kernel_size,
                                  weights=msssim_weights(args.scales))
    label = "measured" if m_pairs == len(pairs) else f"EXTRAPOLATED from {m_pairs} pairs"
    best = float("inf")
    for threads in args.monai_threads:  # MONAI at its best thread count: a fair reference
        torch.set_num_threads(threads)
        t = time.perf_counter()
        ref = np.array([float(metric(vols[i:i + 1], vols[j:j + 1])) for i, j in pairs[:m_pairs]])
        per_pair = (time.perf_counter() - t) / m_pairs
        best = min(best, per_pair)
        print(f"MONAI, {threads} thread(s): {per_pair * 1e3:7.1f} ms/pair over {m_pairs} pairs -> "
              f"{per_pair * len(pairs):8.1f} s for all pairs ({label})")
    print(f"speed-up vs MONAI's best (per pair, same run): {best / (t_ours / len(pairs)):.1f}x")
    print(f"max |ours - MONAI| over {m_pairs} pairs: {np.abs(ours[:m_pairs] - ref).max():.2e}; "
          f"mean pairwise MS-SSIM (ours, all pairs): {ours.mean():.4f}")


if __name__ == "__main__":
    main()
