"""Checks and helpers shared by the metric plugins."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np
import torch

from benchgen.errors import BenchgenError, MetricError, MissingWeightsError
from benchgen.functional.sources import iter_batches
from benchgen.hashing import fingerprint
from benchgen.interfaces import FeatureExtractor, MetricContext, MetricResult
from benchgen.volumes import Cohort
from benchgen_metrics import cache

ZScore = Literal["auto", "real", "none"]  # the ``zscore`` option of the feature-based metrics


def check_cohorts(metric: str, **sets: Cohort | None) -> None:
    """Every set: >= 2 volumes, finite voxels; all sets: one shape. MetricError naming metric and set."""
    shapes = {}
    for role, c in sets.items():
        if c is None:
            continue
        if len(c) < 2:
            raise MetricError(f"{metric}: the {role} set has {len(c)} volume(s); at least 2 are needed")
        bad = [c.subject_ids[start + k] for start, b in iter_batches(c, CHECK_BATCH)
               for k in np.flatnonzero(~torch.isfinite(b.reshape(len(b), -1)).all(1).numpy())]
        if bad:
            raise MetricError(f"{metric}: the {role} set has NaN/Inf voxels in {', '.join(bad[:5])}")
        shapes[role] = c.shape
    if len(set(shapes.values())) > 1:
        desc = ", ".join(f"{r} {'×'.join(map(str, s))}" for r, s in shapes.items())
        raise MetricError(f"{metric}: sets have different shapes ({desc}); resize them to one shape")


def make_extractor(metric: str, name: str, weights: str | None) -> FeatureExtractor:
    from benchgen import registry

    params: dict[str, Any] = {}
    if weights is not None:
        params["weights"] = weights
    try:
        ext = registry.create("features", name, params, where=f"metric '{metric}' features '{name}'")
    except BenchgenError as exc:
        raise MetricError(f"{metric}: {exc.message}", exc.hint, debug_details=exc.debug_details) from None
    return ext


def extractor_or_skip(metric: str, features: str, weights: str | None) -> FeatureExtractor | MetricResult:
    """The extractor, or a `skipped` result carrying the download instructions for missing weights."""
    ext = make_extractor(metric, features, weights)
    try:
        ext.weights_sha256()
    except MissingWeightsError as exc:
        return MetricResult(None, status="skipped", message=f"{metric}: {exc}")
    return ext


FEATURE_CHUNK = 4  # volumes per progress step of feature extraction
CHECK_BATCH = 16  # volumes per read of the finiteness check


def features(ext: FeatureExtractor, c: Cohort, device: str, progress: Callable[[int], None] = lambda done: None
             ) -> np.ndarray:
    """Features of a set, FEATURE_CHUNK volumes at a time (volumes are independent, and a set on disk is
    read a chunk at a time); `progress(volumes done)` after each chunk."""
    from benchgen_metrics.distributed import extract_split

    parts = []
    for start, batch in iter_batches(c, FEATURE_CHUNK):
        parts.append(extract_split(ext, batch, device))
        progress(start + len(batch))
    return np.concatenate(parts)


# Features of the last few synthetic sets this process scored, keyed by the set object and the extractor: FRD,
# KID and PRDC of one cell (or one `benchgen evaluate`) extract a synthetic set once, not once per metric.
_SYNTHETIC: list[tuple[weakref.ref[Cohort], str, np.ndarray]] = []
SYNTHETIC_MEMO = 4


def synthetic_features(ext: FeatureExtractor, c: Cohort, device: str,
                       progress: Callable[[int], None] = lambda done: None) -> tuple[np.ndarray, bool]:
    """(features of `c`, reused): :func:`features`, or the same set's features from a metric scored before."""
    key = fingerprint({"extractor": ext.name, "config": ext.config(), "weights_sha256": ext.weights_sha256()})
    for ref, k, f in _SYNTHETIC:
        if ref() is c and k == key:
            progress(len(c))
            return f, True
    f = features(ext, c, device, progress)
    f.setflags(write=False)  # shared with the metrics scored next: none may change it in place
    _SYNTHETIC.append((weakref.ref(c), key, f))
    del _SYNTHETIC[:-SYNTHETIC_MEMO]
    return f, False


def real_and_synthetic_features(metric: str, ext: FeatureExtractor, synthetic: Cohort, real: Cohort,
                                ctx: MetricContext) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Features of both sets (real ones from the cache when possible) plus what to record about them."""
    desc, total = f"{metric}: features", len(real) + len(synthetic)

    def extract(c: Cohort, offset: int) -> np.ndarray:
        return features(ext, c, ctx.device, lambda done: ctx.progress(desc, offset + done, total))

    ctx.progress(desc, 0, total)
    f_real, hit = cache.cached(ext, ctx.cache_dir, ctx.real_fingerprint, len(real), lambda: extract(real, 0))
    ctx.progress(desc, len(real), total)
    f_syn, reused = synthetic_features(ext, synthetic, ctx.device,
                                       lambda done: ctx.progress(desc, len(real) + done, total))
    if f_real.shape[1] != f_syn.shape[1]:
        raise MetricError(f"{metric}: feature dimensions do not match ({f_real.shape[1]} vs {f_syn.shape[1]})")
    for role, f in (("real", f_real), ("synthetic", f_syn)):
        if not np.isfinite(f).all():
            raise MetricError(f"{metric}: {ext.name} gave non-finite features for the {role} set")
    info = {"features": ext.name, "features_config": ext.config(), "features_dim": int(f_real.shape[1]),
            "weights_sha256": ext.weights_sha256(), "real_features_cached": hit,
            "synthetic_features_reused": reused}
    return f_real, f_syn, info


@dataclass(frozen=True)
class FeatureSets:
    """Features of the real and synthetic sets, as a metric compares them."""

    real: np.ndarray
    synthetic: np.ndarray
    info: dict[str, Any]  # what to record about them (see real_and_synthetic_features)
    zscored: bool  # standardised by the real set's mean and std
    extractor: FeatureExtractor


def feature_sets(metric: str, features: str, weights: str | None, zscore: ZScore, synthetic: Cohort, real: Cohort,
                 ctx: MetricContext) -> FeatureSets | MetricResult:
    """The one path of every feature-based metric: the features plugin `features` (a `skipped` result when
    its weights are missing), the features of both sets (real ones from the cache when possible, synthetic
    ones reused from a metric scored before), z-scored against the real set where `zscore` says so."""
    ext = extractor_or_skip(metric, features, weights)
    if isinstance(ext, MetricResult):
        return ext
    f_real, f_syn, info = real_and_synthetic_features(metric, ext, synthetic, real, ctx)
    z = resolve_zscore(zscore, ext)
    if z:
        f_real, f_syn = zscore_against_real(f_real, f_syn)
    return FeatureSets(f_real, f_syn, info, z, ext)


def vectors(metric: str, features: str, weights: str | None, zscore: ZScore, synthetic: Cohort, real: Cohort,
            ctx: MetricContext) -> tuple[Any, Any, dict[str, Any]] | MetricResult:
    """(real, synthetic) row vectors for kernel metrics (MMD, KID): flattened voxels (``features =
    "voxels"``), or :func:`feature_sets` with what to record about them; a `skipped` result as there."""
    if features == "voxels":
        return voxels(real), voxels(synthetic), {}
    sets = feature_sets(metric, features, weights, zscore, synthetic, real, ctx)
    if isinstance(sets, MetricResult):
        return sets
    return sets.real, sets.synthetic, {**sets.info, "zscore": sets.zscored}


def zscore_against_real(f_real: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Standardise every set with the real set's per-feature mean and std (constant features: std 1)."""
    mu = f_real.mean(axis=0)
    sd = f_real.std(axis=0, ddof=1)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return [(f - mu) / sd for f in (f_real, *others)]


def rezscore(z_real: np.ndarray, rows: np.ndarray, *sets: np.ndarray) -> list[np.ndarray]:
    """`sets` standardised again by the real rows `rows` of already z-scored `z_real`: what z-scoring a
    bootstrap resample of the real set gives (the bootstrap must repeat the standardisation, or it misses
    the variance of the real set's std, which dominates far from the real distribution)."""
    sub = z_real[rows]
    mu = sub.mean(axis=0)
    sd = sub.std(axis=0, ddof=1)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return [(f - mu) / sd for f in sets]


def resolve_zscore(mode: str, ext: FeatureExtractor) -> bool:
    return bool(getattr(ext, "standardize", False)) if mode == "auto" else mode == "real"


def voxels(c: Cohort) -> Any:
    """What the functional metrics read a set's voxels from: the tensor of an in-memory set (the computation
    of every earlier version), the cohort itself when it is on disk (read in batches)."""
    return c if c.streamed else c.data


def digests(c: Cohort) -> list[str]:
    """Content hash of every volume (exact equality)."""
    return [hashlib.blake2b(np.ascontiguousarray(v).tobytes(), digest_size=16).hexdigest()
            for _, batch in iter_batches(c, CHECK_BATCH) for v in batch[:, 0].numpy()]
