"""One board cell from a row fitted several times: pooled value, hierarchical bootstrap replicates, and the
split of its variance into training, sampling and test-subject parts.

Each record (one fit, one sampling seed) stores B bootstrap replicates; replicate b of every record of every row
resampled the *same* real test subjects (the shared real-set stream), and its synthetic samples from its seed.
The hierarchical bootstrap keeps that: replicate b of a cell first resamples the row's fits with replacement
(from one stream, :data:`FIT_SEED`), then takes, for each drawn fit, its replicate b averaged over seeds. So the
interval holds the training run's variance on top of the samples' and the test subjects', and two rows stay
paired through b. With one fit, resampling fits changes nothing: the cell is the mean over seeds, as before.

Variance parts (of the pooled value; see :func:`variance_parts`): the test-subject part is what records share
(the covariance of two records' replicates), the sampling part what a record's replicates vary beyond it,
divided by the number of sample sets, and the training part the spread of the fit means beyond their sampling
noise, divided by the number of fits (method-of-moments, clipped at 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Run = Any  # a training run's key: a fit index, or (draw, fit); sortable, one kind per cell
FIT_SEED = 20_261_207  # the fit-resampling stream: one constant, so cells of equal fit counts resample alike


@dataclass(frozen=True)
class Pooled:
    value: float  # mean over fits of each fit's mean over seeds
    replicates: np.ndarray | None  # hierarchical bootstrap replicates of `value` (None without replicates)
    parts: dict[str, float | None]  # variance of `value`: training, sampling, test_subjects (None: not measurable)
    fits: int


def pool(values: dict[Run, list[float]], replicates: dict[Run, list[np.ndarray]] | None) -> Pooled:
    """`values[fit]`: each seed's estimate; `replicates[fit]`: each seed's B replicates (same order), or None."""
    fits = sorted(values)
    fit_means = np.array([np.mean(values[f]) for f in fits])
    value = float(fit_means.mean())
    if not replicates:
        return Pooled(value, None, {"training": _between(fit_means, None), "sampling": None,
                                    "test_subjects": None}, len(fits))
    per_fit = np.stack([np.mean(np.stack(replicates[f]), axis=0) for f in fits])  # fits × B
    n_boot = per_fit.shape[1]
    if len(fits) == 1:
        reps = per_fit[0]
    else:
        # few fits: each run's replicates are centred on its own estimate's offset from the pooled value, stretched
        # (see small_sample_scale), keeping replicate b's real subjects; only that between-run part is stretched,
        # each replicate's own sampling noise is kept as it is (stretching it too made two runs' intervals ~9× a
        # replicate's spread)
        drift = (per_fit - per_fit.mean(axis=0)).mean(axis=1, keepdims=True)  # replicate clouds' offsets
        offset = (fit_means - value)[:, None]  # the runs' estimates' offsets
        per_fit = per_fit - drift + small_sample_scale(len(fits)) * offset
        draw = np.random.default_rng(FIT_SEED).integers(0, len(fits), size=(n_boot, len(fits)))
        reps = np.take_along_axis(per_fit.T, draw, axis=1).mean(axis=1)
    return Pooled(value, reps, variance_parts(values, replicates), len(fits))


def small_sample_scale(fits: int, level: float = 0.95) -> float:
    """How much the runs' offsets from their mean are stretched before they are resampled. Resampling F fits
    gives the mean over fits a variance (F−1)/F of the unbiased one, and its percentiles act as if that variance
    were known, while F fits estimate it with F−1 degrees of freedom: sqrt(F/(F−1)) corrects the first,
    t_{F−1}/z the second (benchmarks/fit_interval_coverage.py measures the result)."""
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    return float(np.sqrt(fits / (fits - 1)) * stats.t.ppf(0.5 + level / 2, fits - 1) / z)


def variance_parts(values: dict[Run, list[float]], replicates: dict[Run, list[np.ndarray]]) -> dict[str, float | None]:
    """The pooled value's variance split into training, sampling and test-subject parts (None where the records
    cannot tell them apart: one record in all cannot split sampling from test subjects; one fit has no
    training part)."""
    records = [r for f in sorted(replicates) for r in replicates[f]]
    n_fits, n_sets = len(values), len(records)
    if n_sets < 2:
        return {"training": None, "sampling": None, "test_subjects": None}
    x = np.stack(records)
    x = x[:, np.all(np.isfinite(x), axis=0)]  # replicates finite in every record
    cov = np.cov(x)
    off = cov[~np.eye(n_sets, dtype=bool)]
    test = max(float(off.mean()), 0.0)  # what every record shares: the real subjects resampled alike
    one_set = max(float(np.mean(np.diag(cov))) - test, 0.0)  # one sample set's own variance
    seeds = float(np.mean([len(v) for v in values.values()]))
    fit_means = np.array([np.mean(values[f]) for f in sorted(values)])
    return {"training": _between(fit_means, one_set / seeds) if n_fits > 1 else None,
            "sampling": one_set / n_sets, "test_subjects": test}


def _between(fit_means: np.ndarray, noise: float | None) -> float | None:
    """Training variance of the mean over fits: the fit means' variance less their sampling noise, over fits."""
    if len(fit_means) < 2:
        return None
    spread = float(np.var(fit_means, ddof=1)) - (noise or 0.0)
    return max(spread, 0.0) / len(fit_means)


def parts_text(parts: dict[str, float | None]) -> str:
    """``training 41% · sampling 12% · test subjects 47%`` of the measured total ('' when nothing is)."""
    known = {k: v for k, v in parts.items() if v is not None}
    total = sum(known.values())
    if not known or total <= 0:
        return ""
    return " · ".join(f"{k.replace('_', ' ')} {100 * v / total:.0f}%" for k, v in known.items()) + (
        "" if parts.get("training") is not None else " (training not measured: one fit)")
