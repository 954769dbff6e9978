"""Pure maths behind benchgen's metrics: no I/O, no plugins, importable on its own.

* :mod:`.mmd` — unbiased MMD² (linear kernel = ``monai.metrics.MMDMetric``; Gaussian kernel on features)
* :mod:`.frechet` — Fréchet distance between Gaussian fits of feature vectors (FID / FRD)
* :mod:`.msssim` — 3D multi-scale SSIM, per pair and over all pairs within a set (diversity)
* :mod:`.kid` — kernel inception distance (polynomial-kernel unbiased MMD² over subsets)
* :mod:`.prdc` — precision, recall, density, coverage (Naeem et al., 2020)
* :mod:`.memorization` — copy detection (NCC over small translations, Euclidean) and AuthPct
* :mod:`.bootstrap` — seeded percentile bootstrap confidence intervals
"""

from benchgen.functional.bootstrap import bootstrap_ci, percentile_ci
from benchgen.functional.frechet import (
    frechet_distance,
    frechet_distance_features,
    frechet_distance_inf,
    gaussian_stats,
)
from benchgen.functional.kid import kernel_inception_distance
from benchgen.functional.memorization import authpct, memorization_share, ncc_shift_search, nearest_neighbours
from benchgen.functional.mmd import gram_blocks, mmd_from_gram, mmd_gaussian, mmd_linear
from benchgen.functional.msssim import check_kernel_fits, ms_ssim_pair, ms_ssim_within, msssim_weights
from benchgen.functional.prdc import prdc

__all__ = [
    "authpct", "bootstrap_ci", "check_kernel_fits", "frechet_distance", "frechet_distance_features",
    "frechet_distance_inf", "gaussian_stats", "gram_blocks", "kernel_inception_distance", "memorization_share",
    "mmd_from_gram", "mmd_gaussian", "mmd_linear", "ms_ssim_pair", "ms_ssim_within", "msssim_weights",
    "ncc_shift_search", "nearest_neighbours", "percentile_ci", "prdc",
]
