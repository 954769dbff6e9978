"""What a board needs to know about a column's statistic beyond its records: its range, what its bootstrap
resamples, and the value a ``≈`` column is judged against when it has no real row.

Records written by current plugins carry their range (``details.ci_bounds``); records stored before a plugin
declared one fall back to :data:`KNOWN_BOUNDS`, so boards of stored results are fixed without recomputing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchgen.functional.bootstrap import clip_to_bounds

Bounds = tuple[float | None, float | None]

# (metric plugin, sub-result key) -> the statistic's range, for records that do not store one
KNOWN_BOUNDS: dict[tuple[str, str], Bounds] = {
    ("anatomy", "w1"): (0.0, None),  # a mean of Wasserstein distances
    ("anatomy", "effect"): (0.0, None),  # a weighted mean absolute difference of effect sizes
    ("fid", ""): (0.0, None),  # a Fréchet distance
    ("memorization", "copies"): (0.0, 1.0),
    ("memorization", "authpct"): (0.0, 100.0),
    ("utility", ""): (-1.0, 1.0),
    ("prdc", "precision"): (0.0, 1.0), ("prdc", "recall"): (0.0, 1.0), ("prdc", "coverage"): (0.0, 1.0),
    ("prdc", "density"): (0.0, None),
}

# What each built-in metric's bootstrap resamples (the caption says it per column); anything else: both sets
REAL_AND_SAMPLES = "real subjects and samples"
KNOWN_SOURCES: dict[tuple[str, str], str] = {
    ("utility", ""): "classifier refits on resampled training and synthetic sets, then real test subjects",
    ("ms-ssim", ""): "synthetic samples (pairs within the set)",
    ("memorization", "authpct"): "synthetic samples",
}

# (metric plugin, sub-result key) -> the value of two samples of one distribution, for statistics ranked by
# closeness to it. PRDC density: its expectation is 1 when the synthetic and real sets share a distribution
# (Naeem et al. 2020, §3.2); more than 1 means samples crowd the real scans (a copier), fewer means they miss.
KNOWN_TARGETS: dict[tuple[str, str], float] = {("prdc", "density"): 1.0}


def sub_key(record: dict[str, Any]) -> tuple[str, str]:
    """(metric plugin, sub-result key) of a record: ``prdc.density[ftd]`` -> (prdc, density)."""
    column = str(record["metric"]).split("[", 1)[0]
    sub = column.split(".", 1)[1] if "." in column else ""
    return str(record.get("metric_plugin") or column.split(".", 1)[0]), sub


def bounds_of(record: dict[str, Any]) -> Bounds | None:
    """The statistic's range: as stored with the record, else as known for its plugin, else None."""
    stored = (record.get("details") or {}).get("ci_bounds")
    if stored:
        return stored[0], stored[1]
    return KNOWN_BOUNDS.get(sub_key(record))


def clip(lo: float | None, hi: float | None, bounds: Bounds | None) -> tuple[float | None, float | None]:
    """An interval clipped to the statistic's range (which cannot remove the truth)."""
    if bounds is None or lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return lo, hi
    return clip_to_bounds(lo, hi, bounds)


def sources_of(record: dict[str, Any]) -> str:
    return KNOWN_SOURCES.get(sub_key(record), REAL_AND_SAMPLES)


def target_of(record: dict[str, Any]) -> float | None:
    return KNOWN_TARGETS.get(sub_key(record))


def count_nonfinite(replicates: np.ndarray | None) -> int:
    return 0 if replicates is None else int(np.sum(~np.isfinite(replicates)))


def reference_interval(records: list[dict[str, Any]]) -> tuple[float, float | None, float | None] | None:
    """The real row's cell from records that carry the real set's own value: its value (the mean when seeds
    differ) and the interval the metric stored for it (``details.reference_ci``). Never a Student-t over
    seeds: the seeds share one real set, so identical copies say nothing about its uncertainty. With several
    differing stored intervals, their envelope; none stored, no interval."""
    vals = [float(r["reference"]) for r in records if r.get("reference") is not None and r["status"] == "ok"]
    if not vals:
        return None
    cis = [ci for r in records if (ci := (r.get("details") or {}).get("reference_ci"))]
    if len(cis) != len(vals):
        return float(np.mean(vals)), None, None
    return float(np.mean(vals)), float(min(c[0] for c in cis)), float(max(c[1] for c in cis))
