"""Seeded percentile bootstrap: subjects are resampled with replacement, the statistic recomputed."""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import numpy as np


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """The central `level` interval of bootstrap replicates (non-finite replicates ignored)."""
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_replicates(stat: Callable[..., float], sizes: Sequence[int], n_boot: int,
                         seed: int) -> np.ndarray:
    """``stat(idx_1, ..., idx_k)`` over `n_boot` resamples; set i is resampled as ``sizes[i]`` indices.

    One generator seeded by `seed` draws every index array, so a seed gives the same interval.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot, dtype=np.float64)
    with _single_threaded_blas():
        for b in range(n_boot):
            idx = [rng.integers(0, n, size=n) for n in sizes]
            out[b] = stat(*idx)
    return out


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """Replicates are many small linear-algebra calls (e.g. 39×39 eigh), where multi-threaded BLAS only
    adds synchronisation (30× slower on a busy 2-core CPU); limit it with threadpoolctl when installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def bootstrap_ci(stat: Callable[..., float], sizes: Sequence[int], n_boot: int, seed: int,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile CI of `stat` under subject resampling; None when ``n_boot == 0`` (disabled)."""
    if n_boot <= 0:
        return None
    return percentile_ci(bootstrap_replicates(stat, sizes, n_boot, seed), level)
