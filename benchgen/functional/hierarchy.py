"""Pooling a score over groups of runs — draws of the training set (or fits of a generator) — with an interval
that covers the groups' spread: a two-stage (hierarchical) bootstrap that resamples the groups first.

Each group carries its value and its own B bootstrap replicates (real subjects and samples resampled within
it, paired across rows by the shared real-subject stream of :mod:`benchgen.functional.bootstrap`). Replicate b
of the pool is the mean, over R groups drawn with replacement, of each drawn group's replicate b. The group
draws come from one constant seed, so replicate b of every row of a board resamples the same groups: pooled
replicates stay paired across rows. Resampling at both stages counts the within-group variance about twice
(wide), while R groups show the between-group variance at (R − 1)/R of its size (narrow when R is small);
neither is corrected here, and the interval's coverage is not yet measured.
"""

from __future__ import annotations

import numpy as np

GROUP_SEED = 20_241_207  # the group stream: one constant, so replicate b of every row draws the same groups


def pool_groups(values: np.ndarray, replicates: np.ndarray, seed: int = GROUP_SEED) -> tuple[float, np.ndarray]:
    """(mean of the R group values, B pooled replicates) from `values` (R,) and `replicates` (R×B)."""
    vals = np.asarray(values, dtype=np.float64)
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim != 2 or reps.shape[0] != vals.shape[0] or vals.size == 0:
        raise ValueError(f"expected R values and R×B replicates, got {vals.shape} and {reps.shape}")
    r, b = reps.shape
    picks = np.random.default_rng(seed).integers(0, r, size=(b, r))  # the groups replicate b averages
    pooled = np.take_along_axis(reps.T, picks, axis=1).mean(axis=1)
    return float(vals.mean()), pooled
