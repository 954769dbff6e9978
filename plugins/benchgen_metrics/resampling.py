"""Bootstrap fields of a MetricResult, shared by the metric plugins.

Every metric's Params has ``bootstrap`` (B resamples of subjects, 0 disables the CI; the runner passes the
suite's B); the resampling is seeded by ``MetricContext.seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchgen.functional import bootstrap as bs
from benchgen.interfaces import MetricContext
from benchgen_metrics import common


def check_bootstrap(b: int) -> None:
    """The check of every Params' ``bootstrap``."""
    if b < 0:
        raise ValueError(f"bootstrap must be >= 0 (0 disables the CI), got {b}")


def resampled(value: float, stat: Any, sizes: list[int], roles: list[bs.Role], n_boot: int, ctx: MetricContext,
              method: bs.CIMethod = "percentile", bounds: tuple[float | None, float | None] | None = None
              ) -> dict[str, Any]:
    """MetricResult's ``ci``, ``replicates`` and ``ci_method``: `stat` over `n_boot` resamples of the sets
    (real sets from the stream every cell shares, synthetic ones from the cell's seed); no CI when 0.
    `bounds`: the statistic's range, which the interval is clipped to (also recorded for the boards)."""
    if n_boot <= 0:
        return {"ci": None}
    return boot_fields(value, bs.bootstrap_replicates(stat, sizes, n_boot, ctx.seed, roles), method, bounds)


def boot_fields(value: float, reps: np.ndarray, method: bs.CIMethod = "percentile",
                bounds: tuple[float | None, float | None] | None = None) -> dict[str, Any]:
    """MetricResult's interval fields from replicates computed elsewhere."""
    return {"ci": bs.interval(value, reps, method, bounds=bounds), "replicates": reps, "ci_method": method,
            "ci_bounds": bounds}


def restandardized(z: bool, x: Any, y: Any, grams: Any, from_gram: Any, full: tuple[np.ndarray, ...]) -> Any:
    """The bootstrap statistic ``(i, j) -> value`` of a kernel metric (MMD, KID): from the full Gram blocks, or,
    for z-scored features, from blocks of features standardised again by each resample's real rows."""
    if not z:
        return lambda i, j: from_gram(*full, i, j)
    xa, ya = np.asarray(x), np.asarray(y)

    def stat(i: np.ndarray, j: np.ndarray) -> float:
        return from_gram(*grams(*common.rezscore(xa, i, xa, ya)), i, j)

    return stat
