"""Pure maths behind benchgen's metrics: no I/O, no plugins, importable on its own.

* :mod:`.mmd` — unbiased MMD² (linear kernel = ``monai.metrics.MMDMetric``; Gaussian kernel on features)
* :mod:`.frechet` — Fréchet distance between Gaussian fits of feature vectors (FID / FRD)
* :mod:`.msssim` — 3D multi-scale SSIM, per pair and over all pairs within a set (diversity)
* :mod:`.prdc` — precision, recall, density, coverage (Naeem et al., 2020)
* :mod:`.memorization` — nearest-training-neighbour copy detection
* :mod:`.bootstrap` — seeded percentile bootstrap confidence intervals
"""

from benchgen.functional.bootstrap import bootstrap_ci, percentile_ci
from benchgen.functional.frechet import frechet_distance, frechet_distance_features, gaussian_stats
from benchgen.functional.memorization import memorization_share, nearest_neighbours
from benchgen.functional.mmd import gram_blocks, mmd_from_gram, mmd_gaussian, mmd_linear
from benchgen.functional.msssim import check_kernel_fits, ms_ssim_pair, ms_ssim_within, msssim_weights
from benchgen.functional.prdc import prdc

__all__ = [
    "bootstrap_ci", "check_kernel_fits", "frechet_distance", "frechet_distance_features", "gaussian_stats",
    "gram_blocks", "memorization_share", "mmd_from_gram", "mmd_gaussian", "mmd_linear", "ms_ssim_pair",
    "ms_ssim_within", "msssim_weights", "nearest_neighbours", "percentile_ci", "prdc",
]
