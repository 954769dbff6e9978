"""Ground truth of the `anatomy` metric on the phantom: the disease effects it measures per region, how
faithful its tissue segmentation is to the phantom's known GM map (per-volume vs pooled-real mixture),
and its timing.

    python benchmarks/anatomy_ground_truth.py --healthy 24 --disease 12 --voxel-mm 4 --shape 16,24,16

Volumes go through the suites' chain (crop-pad to the MNI box, resize, scale-01); the true GM maps
through the same geometric steps.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--healthy", type=int, default=24)
    ap.add_argument("--disease", type=int, default=12, help="subjects per disease (ftd-like, als-like)")
    ap.add_argument("--voxel-mm", type=float, default=4.0)
    ap.add_argument("--shape", default="16,24,16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bias", type=float, default=0.0, help="the phantom's bias field (0: bias-corrected scans)")
    args = ap.parse_args()
    from benchgen_data.phantom import PhantomParams, chained_cohort
    from benchgen_metrics import anatomy

    shape = tuple(int(s) for s in args.shape.split(","))
    t0 = time.perf_counter()
    conditions = {"healthy": args.healthy, "ftd-like": args.disease, "als-like": args.disease}
    params = PhantomParams(voxel_mm=args.voxel_mm, conditions=conditions, seed=args.seed, bias=args.bias)
    cohort, gm_true = chained_cohort(params, shape, with_gm=True)  # type: ignore[arg-type]
    print(f"cohort {len(cohort)} × {'×'.join(map(str, shape))}: {time.perf_counter() - t0:.1f} s")
    ml = anatomy.voxel_ml(cohort.affine)
    true_gm = gm_true.reshape(len(cohort), -1).sum(1) * ml
    arr = cohort.numpy().reshape(len(cohort), -1)
    for fit, fractions in (("per-volume", "partial-volume"), ("pooled-real", "partial-volume"),
                           ("per-volume", "posterior"), ("pooled-real", "posterior")):
        metric = anatomy.Anatomy(anatomy.Anatomy.Params(fit=fit, fractions=fractions, bootstrap=0))
        t0 = time.perf_counter()
        vols, mask_ml = metric.volumes(cohort, cohort)[:2]
        dt = time.perf_counter() - t0
        est = vols[:, -1, 1]
        # voxelwise: GM posterior vs true GM share, inside the masks
        model = None
        if fit == "pooled-real":
            model = anatomy.fit_mixture(arr[arr > 0].astype(np.float64), 5000 * len(cohort))
        corr = []
        for n in range(len(cohort)):
            inside = arr[n] > 0
            post = anatomy.FRACTIONS[fractions](model or anatomy.fit_mixture(arr[n][inside].astype(np.float64), 5000),
                                      arr[n][inside].astype(np.float64))
            corr.append(np.corrcoef(post[:, 1], gm_true[n].reshape(-1)[inside])[0, 1])
        rel = (est - true_gm) / true_gm
        print(f"{fit:12s} {fractions:14s} segmentation of {len(cohort)} volumes: {dt:.2f} s; GM volume vs truth: "
              f"bias {rel.mean():+.3f}, sd {rel.std():.3f}, r(subjects) {np.corrcoef(est, true_gm)[0, 1]:.3f}; "
              f"voxelwise r {np.mean(corr):.3f}")
    # the regions the phantom plants its diseases in: the ground truth is reported there
    metric = anatomy.Anatomy(anatomy.Anatomy.Params(bootstrap=0, regions="phantom-regions"))
    v, m = metric.volumes(cohort, cohort)[:2]
    frac = v.reshape(len(cohort), -1) / m[:, None]
    groups = np.array([md["condition"] for md in cohort.metadata])
    names = anatomy.feature_names()
    print("\nCohen's d (tissue volume as a fraction of the brain mask), disease vs healthy:")
    print(f"{'region':14s} {'GM ftd':>8s} {'GM als':>8s} {'CSF ftd':>8s} {'CSF als':>8s}")
    for r in (*anatomy.REGIONS, "brain"):
        d = [anatomy.cohens_d(frac[:, [names.index(f"{t}.{r}")]], groups, dis)[0]
             for t in ("gm", "csf") for dis in ("ftd-like", "als-like")]
        print(f"{r:14s} " + " ".join(f"{x:+8.2f}" for x in d))


if __name__ == "__main__":
    main()
