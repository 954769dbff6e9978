"""Seeded bootstrap: subjects are resampled with replacement, the statistic recomputed.

Pairing. A score compares a synthetic set with the real reference set, which every generator and every
seed of a suite shares. Index arrays of the real set are therefore drawn from one stream seeded by
``real_seed`` (the same for every cell), those of a synthetic set from the cell's own ``seed``: replicate
*b* of every generator and seed resamples the *same* real subjects. That is what makes replicates
comparable across rows (paired differences for rank intervals) and poolable across seeds (the real-set
variance is not averaged away as if each seed had its own real set).

Intervals. ``percentile`` is the plain percentile interval of the replicates; ``basic`` (the "basic" or
reverse-percentile bootstrap, Davison & Hinkley 1997, §5.2) reflects them around the estimate,
``[2θ̂ − q_hi, 2θ̂ − q_lo]``, which corrects a statistic's small-sample bias to first order (the
Fréchet distance's plug-in estimate is biased upwards by the trace of the sampling covariance).
``centered`` shifts the replicates so that their mean is the estimate before taking percentiles: for
statistics whose *resamples* are biased by the duplicates that resampling with replacement creates, while the
estimate itself is not biased for what it estimates (PRDC's k-NN balls: measured, the coverage replicates sit
0.1 below the estimate).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Literal, Sequence

import numpy as np

Role = Literal["real", "synthetic"]
CIMethod = Literal["percentile", "basic", "centered", "log-basic", "bc"]
REAL_SEED = 20_240_601  # the real-set stream: one constant, so every cell of every suite pairs


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """The central `level` interval of bootstrap replicates (non-finite replicates ignored)."""
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def interval(value: float, replicates: np.ndarray, method: CIMethod = "percentile", level: float = 0.95,
             bounds: Sequence[float | None] | None = None) -> tuple[float, float] | None:
    """The `level` interval of `value` from its replicates, by `method` (see the module docstring), clipped
    to the statistic's range `bounds` (low, high; None = open) — which cannot remove the truth."""
    ci = percentile_ci(replicates, level)
    if ci is None:
        return None
    if method == "basic":
        ci = (2.0 * value - ci[1], 2.0 * value - ci[0])
    elif method == "centered":
        reps = np.asarray(replicates, dtype=np.float64)
        shift = value - float(reps[np.isfinite(reps)].mean())
        ci = (ci[0] + shift, ci[1] + shift)
    elif method == "log-basic":
        ci = _log_basic(value, replicates, level)
    elif method == "bc":
        ci = _bias_corrected(value, replicates, level)
    elif method != "percentile":
        raise ValueError(f"unknown interval method '{method}' (percentile, basic, centered, log-basic or bc)")
    return clip_to_bounds(ci[0], ci[1], bounds)


def clip_to_bounds(lo: float, hi: float, bounds: Sequence[float | None] | None) -> tuple[float, float]:
    """An interval clipped to the statistic's range (which cannot remove the truth)."""
    lo_b, hi_b = bounds if bounds is not None else (None, None)
    if lo_b is not None:
        lo, hi = max(lo, lo_b), max(hi, lo_b)
    if hi_b is not None:
        lo, hi = min(lo, hi_b), min(hi, hi_b)
    return lo, hi


def _log_basic(value: float, replicates: np.ndarray, level: float) -> tuple[float, float]:
    """Basic interval of log(value), mapped back: ``[v² / q_hi, v² / q_lo]``. For a positive statistic whose
    bias is multiplicative (the Fréchet distance): it never leaves (0, inf), unlike the plain reflection."""
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps) & (reps > 0.0)]
    if value <= 0.0 or reps.size == 0:  # log undefined: from 0 to the replicates' upper quantile
        ci = percentile_ci(np.asarray(replicates, dtype=np.float64), level)
        return (0.0, ci[1]) if ci else (0.0, 0.0)
    q_lo, q_hi = np.quantile(reps, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(value * value / q_hi), float(value * value / q_lo)


def _bias_corrected(value: float, replicates: np.ndarray, level: float) -> tuple[float, float]:
    """The bias-corrected percentile interval (Efron's BC: BCa without acceleration, all stored replicates
    allow): percentiles shifted by z0 = Φ⁻¹(share of replicates below the estimate)."""
    from scipy.stats import norm

    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    share = (np.sum(reps < value) + 0.5 * np.sum(reps == value)) / reps.size
    z0 = float(norm.ppf(np.clip(share, 0.5 / reps.size, 1.0 - 0.5 / reps.size)))
    z = float(norm.ppf((1.0 + level) / 2.0))
    lo, hi = np.quantile(reps, [norm.cdf(2 * z0 - z), norm.cdf(2 * z0 + z)])
    return float(lo), float(hi)


def bootstrap_replicates(stat: Callable[..., float], sizes: Sequence[int], n_boot: int, seed: int,
                         roles: Sequence[Role] | None = None, real_seed: int = REAL_SEED) -> np.ndarray:
    """``stat(idx_1, ..., idx_k)`` over `n_boot` resamples; set i is resampled as ``sizes[i]`` indices.

    ``roles[i]`` says whether set i is the real reference set (drawn from the shared ``real_seed``
    stream) or a synthetic set (drawn from ``seed``); without roles every set draws from ``seed``.
    """
    roles = list(roles) if roles is not None else ["synthetic"] * len(sizes)
    if len(roles) != len(sizes):
        raise ValueError(f"{len(sizes)} sizes but {len(roles)} roles")
    streams = {"real": np.random.default_rng(real_seed), "synthetic": np.random.default_rng(seed)}
    out = np.empty(n_boot, dtype=np.float64)
    with single_threaded_blas():
        for b in range(n_boot):
            idx = [streams[r].integers(0, n, size=n) for n, r in zip(sizes, roles)]
            out[b] = stat(*idx)
    return out


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """Replicates are many small linear-algebra calls (e.g. 39×39 eigh), where multi-threaded BLAS only
    adds synchronisation (30× slower on a busy 2-core CPU); limit it with threadpoolctl when installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def bootstrap_ci(stat: Callable[..., float], sizes: Sequence[int], n_boot: int, seed: int,
                 level: float = 0.95, roles: Sequence[Role] | None = None) -> tuple[float, float] | None:
    """Percentile CI of `stat` under subject resampling; None when ``n_boot == 0`` (disabled)."""
    if n_boot <= 0:
        return None
    return percentile_ci(bootstrap_replicates(stat, sizes, n_boot, seed, roles), level)
