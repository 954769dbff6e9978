"""`anatomy`: anatomical plausibility from tissue segmentation, weight-free and offline.

Every volume (real and synthetic) is segmented into CSF / GM / WM inside its brain mask (voxels above
``mask_threshold``: skull-stripped data have a zero background) by a three-class Gaussian mixture of its
intensities, fitted by EM once on the pooled real set (``fit = "pooled-real"``, default; held fixed in the
bootstrap) or per volume (``"per-volume"``); components are ordered by mean (T1: CSF < GM < WM). Each
voxel's tissue fractions unmix its intensity between the two neighbouring class means
(``fractions = "partial-volume"``, default) or are the posteriors (``"posterior"``). Tissue volumes (ml)
are summed in a few regions defined by rules on MNI coordinates (:data:`REGIONS`; the suite's chain leaves
the volumes in MNI space), each voxel split between regions by 2×2×2 sub-voxel points through the cohort's
affine. Two numbers:

* ``anatomy.w1`` (lower is better): per tissue/region volume, the Wasserstein-1 distance between the real
  and synthetic distributions divided by the real set's standard deviation; their mean.
* ``anatomy.effect`` (lower is better): per disease (each condition other than healthy) and tissue/region,
  Cohen's d of the volume as a fraction of the brain mask (disease vs healthy) in the real set and in the
  synthetic set; the mean absolute difference of the d's weighted by the real effect's size |d_real| (the
  plain mean and the correlation of the d's are in details).
  Needs condition metadata (see :mod:`benchgen.conditions`) and at least 2 scans per condition in both
  sets: otherwise `skipped` with the reason.

Both carry bootstrap CIs over subjects (real and synthetic resampled; ``basic`` intervals, because both
numbers are distances biased upwards by sampling noise, like the Fréchet distance); per-region tables are
in details.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from benchgen.errors import DataError, MetricError
from benchgen.functional import bootstrap as bs
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.volumes import Cohort
from benchgen_metrics import common, parcels
from benchgen_metrics.resampling import resampled

TISSUES = ("csf", "gm", "wm")
SIDES = ("l", "r")
# Regions on MNI coordinates (mm), the first rule a point meets wins; lobes are split at x = 0.
REGIONS = ("central", "cerebellum", *(f"{lobe}_{s}" for lobe in ("precentral", "temporal", "occipital", "frontal",
                                                               "parietal", "other") for s in SIDES))
REGION_RULES = {
    "central": "|x| < 22, -40 ≤ y ≤ 28, -5 ≤ z ≤ 30 (lateral ventricles, basal ganglia, thalami)",
    "cerebellum": "z < -20, y < -40",
    "precentral": "-30 ≤ y ≤ 0, z ≥ 40, 20 ≤ |x| ≤ 60 (the band anterior to the central sulcus)",
    "temporal": "|x| ≥ 25, -70 ≤ y ≤ 25, z ≤ 0",
    "occipital": "y < -70",
    "frontal": "y > 0",
    "parietal": "-70 ≤ y < -30, z ≥ 0",
    "other": "the rest (insula, operculum, medial and inferior parts between the lobes)",
}
MIN_GROUP = 2


def region_index(xyz: np.ndarray) -> np.ndarray:
    """Index into :data:`REGIONS` of each world point ``(..., 3)`` (mm, MNI)."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    ax = np.abs(x)
    side = (x >= 0).astype(np.int64)  # 0 left, 1 right
    lobe = np.full(x.shape, 5, dtype=np.int64)  # other
    rules = [  # applied last to first, so the first listed wins
        (4, (y >= -70) & (y < -30) & (z >= 0)),  # parietal
        (3, y > 0),  # frontal
        (2, y < -70),  # occipital
        (1, (ax >= 25) & (y >= -70) & (y <= 25) & (z <= 0)),  # temporal
        (0, (y >= -30) & (y <= 0) & (z >= 40) & (ax >= 20) & (ax <= 60)),  # precentral
    ]
    for value, where in rules:
        lobe[where] = value
    out = 2 + 2 * lobe + side
    out[(z < -20) & (y < -40)] = 1
    out[(ax < 22) & (y >= -40) & (y <= 28) & (z >= -5) & (z <= 30)] = 0
    return out


@functools.lru_cache(maxsize=2)
def _region_weights(shape: tuple[int, int, int], affine_bytes: bytes) -> np.ndarray:
    """``R × N`` float32: the share of each voxel (flattened) in each region, from 2×2×2 sub-voxel points."""
    affine = np.frombuffer(affine_bytes, dtype=np.float64).reshape(4, 4)
    idx = np.stack(np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij"), -1).reshape(-1, 3)
    weights = np.zeros((len(REGIONS), idx.shape[0]), dtype=np.float32)
    offsets = [np.array(o) for o in np.ndindex(2, 2, 2)]
    for o in offsets:
        xyz = (idx + (o - 0.5) * 0.5) @ affine[:3, :3].T + affine[:3, 3]
        weights[region_index(xyz), np.arange(idx.shape[0])] += 1.0 / len(offsets)  # one entry per voxel
    return weights


def region_weights(cohort: Cohort) -> np.ndarray:
    return _region_weights(cohort.shape, np.ascontiguousarray(cohort.affine, dtype=np.float64).tobytes())


def voxel_ml(affine: np.ndarray) -> float:
    return float(abs(np.linalg.det(np.asarray(affine)[:3, :3]))) / 1000.0


# ------------------------------------------------------------------------------------- segmentation
@dataclass(frozen=True)
class Mixture:
    """A 1D Gaussian mixture, components ordered by mean (T1: CSF < GM < WM)."""

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    def posteriors(self, values: np.ndarray) -> np.ndarray:
        """``n × k`` posterior probabilities of the components."""
        return _responsibilities(values, self)[0]


def _responsibilities(x: np.ndarray, m: Mixture) -> tuple[np.ndarray, float]:
    logp = (np.log(m.weights) - 0.5 * np.log(2.0 * np.pi * m.variances)
            - 0.5 * (x[:, None] - m.means) ** 2 / m.variances)
    top = logp.max(axis=1, keepdims=True)
    dens = np.exp(logp - top)
    total = dens.sum(axis=1, keepdims=True)
    return dens / total, float((np.log(total) + top).mean())


def fit_mixture(values: np.ndarray, max_voxels: int, seed: int = 0, n_iter: int = 100,
                tol: float = 1e-4) -> Mixture | None:
    """Three Gaussians fitted to `values` by EM (a fixed-seed subsample of at most `max_voxels`), means
    started at the 15/50/85 % quantiles; None when there are too few values or no spread."""
    values = np.asarray(values, dtype=np.float64)
    if values.size > max_voxels:
        values = np.random.default_rng(seed).choice(values, max_voxels, replace=False)
    spread = float(values.var()) if values.size else 0.0
    if values.size < 30 or spread <= 1e-12:
        return None
    floor = 1e-4 * spread  # keeps a component from collapsing onto one value
    m = Mixture(np.full(3, 1 / 3), np.quantile(values, [0.15, 0.5, 0.85]), np.full(3, spread / 9.0))
    last = -np.inf
    for _ in range(n_iter):
        resp, loglik = _responsibilities(values, m)
        nk = resp.sum(axis=0) + 1e-12
        means = resp.T @ values / nk
        variances = np.maximum(resp.T @ values ** 2 / nk - means ** 2, floor)
        m = Mixture(nk / nk.sum(), means, variances)
        if loglik - last < tol:
            break
        last = loglik
    order = np.argsort(m.means)
    return Mixture(m.weights[order], m.means[order], m.variances[order])


def posteriors(model: Mixture | None, values: np.ndarray) -> np.ndarray:
    """``n × 3`` posterior probabilities of CSF, GM, WM (zeros without a model)."""
    if model is None or values.size == 0:
        return np.zeros((values.size, 3))
    return model.posteriors(np.asarray(values, dtype=np.float64))


def partial_volumes(model: Mixture | None, values: np.ndarray) -> np.ndarray:
    """``n × 3`` tissue fractions of CSF, GM, WM: each intensity unmixed between the two neighbouring class
    means (CSF–GM below the GM mean, GM–WM above it; pure outside the outer means). A coarse voxel is a mix
    of tissues, which posteriors would give wholly to one class."""
    out = np.zeros((values.size, 3))
    if model is None or values.size == 0:
        return out
    c, g, w = model.means
    x = np.asarray(values, dtype=np.float64)
    low = x < g
    t_low = np.clip((x - c) / max(g - c, 1e-12), 0.0, 1.0)
    t_high = np.clip((x - g) / max(w - g, 1e-12), 0.0, 1.0)
    out[:, 0] = np.where(low, 1.0 - t_low, 0.0)
    out[:, 1] = np.where(low, t_low, 1.0 - t_high)
    out[:, 2] = np.where(low, 0.0, t_high)
    return out


FRACTIONS = {"partial-volume": partial_volumes, "posterior": posteriors}


def scheme_weights(cohort: Cohort, regions: str) -> Any:
    """``R × N`` shares of each voxel in each region of the scheme `regions` (``parcels``: the template's
    k-means parcels, :mod:`benchgen_metrics.parcels`; ``phantom-regions``: :data:`REGIONS`)."""
    if regions == "phantom-regions":
        return region_weights(cohort)
    return parcels.weights("parcels", cohort.shape, cohort.affine)


def region_names(regions: str) -> list[str]:
    return list(REGIONS) if regions == "phantom-regions" else [f"parcel{k:02d}" for k in range(parcels.N_PARCELS)]


def regional_volumes(cohort: Cohort, mask_threshold: float, max_voxels: int, model: Mixture | None,
                     fractions: str, weights: list[Any]) -> tuple[list[np.ndarray], np.ndarray]:
    """Per volume and per ``L × N`` region-share matrix of `weights`: tissue volumes (ml) ``N × L × 3``, and
    the brain mask volume (ml, ``N``). `model`: one fitted mixture for every volume (else one fit per volume)."""
    ml = voxel_ml(cohort.affine)
    arr = cohort.numpy().reshape(len(cohort), -1)
    out = [np.zeros((len(cohort), w.shape[0], 3)) for w in weights]
    mask_ml = np.zeros(len(cohort))
    for n, vol in enumerate(arr):
        inside = np.flatnonzero(vol > mask_threshold)
        values = vol[inside].astype(np.float64)
        post = FRACTIONS[fractions](model if model is not None else fit_mixture(values, max_voxels), values)
        for o, w in zip(out, weights):
            o[n] = np.asarray(w[:, inside] @ post) * ml
        mask_ml[n] = inside.size * ml
    return out, mask_ml


def tissue_volumes(cohort: Cohort, mask_threshold: float, max_voxels: int, model: Mixture | None = None,
                   fractions: str = "partial-volume", regions: str = "phantom-regions"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per volume: tissue volumes (ml) ``N × (R + 1) × 3`` (the regions of `regions`, then the whole brain)
    and the brain mask volume (ml, ``N``). `model`: one fitted mixture for every volume (else one per volume)."""
    w = scheme_weights(cohort, regions)
    ones = np.ones((1, w.shape[1]), dtype=np.float32)
    (vols, brain), mask_ml = regional_volumes(cohort, mask_threshold, max_voxels, model, fractions, [w, ones])
    return np.concatenate([vols, brain], axis=1), mask_ml


def pooled_mixture(cohort: Cohort, mask_threshold: float, max_voxels: int) -> Mixture | None:
    """One mixture fitted on the brain voxels of every volume of `cohort` (`max_voxels` per volume)."""
    arr = cohort.numpy().reshape(-1)
    return fit_mixture(arr[arr > mask_threshold].astype(np.float64), max_voxels * len(cohort))


def feature_names(regions: str = "phantom-regions") -> list[str]:
    return [f"{t}.{r}" for r in (*region_names(regions), "brain") for t in TISSUES]


# ---------------------------------------------------------------------------------------- statistics
def standardized_w1(real: np.ndarray, syn: np.ndarray) -> np.ndarray:
    """Per column: Wasserstein-1 between the real and synthetic values over the real set's sd (ddof 1)."""
    from scipy.stats import wasserstein_distance

    sd = real.std(axis=0, ddof=1)
    w1 = np.array([wasserstein_distance(real[:, k], syn[:, k]) for k in range(real.shape[1])])
    return np.where(sd > 1e-12, w1 / np.where(sd > 1e-12, sd, 1.0), np.nan)


def cohens_d(values: np.ndarray, groups: np.ndarray, disease: str, healthy: str = "healthy") -> np.ndarray:
    """Per column: (mean disease − mean healthy) / pooled sd; NaN where a group has < 2 rows or sd is 0."""
    a, b = values[groups == disease], values[groups == healthy]
    if len(a) < 2 or len(b) < 2:
        return np.full(values.shape[1], np.nan)
    pooled = np.sqrt(((len(a) - 1) * a.var(0, ddof=1) + (len(b) - 1) * b.var(0, ddof=1)) / (len(a) + len(b) - 2))
    return np.where(pooled > 1e-12, (a.mean(0) - b.mean(0)) / np.where(pooled > 1e-12, pooled, 1.0), np.nan)


def effect_table(real: np.ndarray, g_real: np.ndarray, syn: np.ndarray, g_syn: np.ndarray,
                 diseases: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """d's of every disease (rows) and column, in the real and the synthetic set."""
    return (np.stack([cohens_d(real, g_real, d) for d in diseases]),
            np.stack([cohens_d(syn, g_syn, d) for d in diseases]))


def effect_scores(d_real: np.ndarray, d_syn: np.ndarray) -> tuple[float, float, float]:
    """Absolute differences of the d's weighted by the real effect's size |d_real| (the score), their plain
    mean, and the Pearson correlation of the d's (where both are finite).

    Why weighted: most region/tissue volumes show no real effect, and their d's are sampling noise in both
    sets; a plain mean is dominated by that noise (measured on conditional_t1's quick cohort: 0.30 for the
    real held-out scans and 0.30 for a generator that ignores the condition). Weighting by |d_real| scores
    the effects the real data show: 0.27 vs 0.88 there (docs/metrics.md)."""
    ok = np.isfinite(d_real) & np.isfinite(d_syn)
    if not ok.any():
        return float("nan"), float("nan"), float("nan")
    a, b = d_real[ok], d_syn[ok]
    r = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 and a.std() > 0 and b.std() > 0 else float("nan")
    w = np.abs(a)
    weighted = float((np.abs(a - b) * w).sum() / w.sum()) if w.sum() > 0 else float("nan")
    return weighted, float(np.abs(a - b).mean()), r


# -------------------------------------------------------------------------------------------- plugin
class Anatomy(Metric):
    """Anatomical plausibility: tissue/region volumes (``anatomy.w1``) and disease effects (``anatomy.effect``);
    see the module docstring."""

    version = "3"  # 2: anatomy.effect weighted by the real effect's size; 3: template parcels by default
    kind = "anatomy"
    higher_is_better = False
    stratifiable = False  # anatomy.effect compares the conditions itself

    @dataclass(frozen=True)
    class Params:
        fit: Literal["pooled-real", "per-volume"] = "pooled-real"
        # where volumes are summed: k-means parcels of the MNI template (independent of any simulated effect), or
        # the rules of REGIONS, which follow the phantom's disease regions (a ceiling: never the default)
        regions: Literal["parcels", "phantom-regions"] = "parcels"
        fractions: Literal["partial-volume", "posterior"] = "partial-volume"
        mask_threshold: float = 0.0  # brain = voxels above this (the background of skull-stripped data is 0)
        max_fit_voxels: int = 5000  # a fixed-seed subsample of each volume's brain voxels fits its mixture
        bootstrap: int = 200

        def __post_init__(self) -> None:
            if self.bootstrap < 0:
                raise ValueError(f"bootstrap must be >= 0 (0 disables the CI), got {self.bootstrap}")
            if not 0.0 <= self.mask_threshold < 1.0:
                raise ValueError(f"mask_threshold must be in [0, 1), got {self.mask_threshold}")
            if self.max_fit_voxels < 100:
                raise ValueError(f"max_fit_voxels must be >= 100, got {self.max_fit_voxels}")

    def volumes(self, synthetic: Cohort, real: Cohort) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(real, synthetic) tissue volumes ``N × (R+1) × 3`` and brain mask volumes."""
        p = self.params
        model = pooled_mixture(real, p.mask_threshold, p.max_fit_voxels) if p.fit == "pooled-real" else None
        v_real, m_real = tissue_volumes(real, p.mask_threshold, p.max_fit_voxels, model, p.fractions, p.regions)
        v_syn, m_syn = tissue_volumes(synthetic, p.mask_threshold, p.max_fit_voxels, model, p.fractions, p.regions)
        return v_real, m_real, v_syn, m_syn

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> dict[str, MetricResult]:
        p = self.params
        common.check_cohorts(self.name, synthetic=synthetic, real=real)
        v_real, m_real, v_syn, m_syn = self.volumes(synthetic, real)
        names = np.array(feature_names(p.regions))
        x_real, x_syn = v_real.reshape(len(real), -1), v_syn.reshape(len(synthetic), -1)
        used = x_real.std(axis=0, ddof=1) > 1e-12  # regions the grid does not reach are left out
        if not used.any():
            raise MetricError(f"{self.name}: no tissue volume varies across the real set (empty brain masks?)")
        base = {"n_real": len(real), "n_synthetic": len(synthetic), "fit": p.fit, "fractions": p.fractions,
                "regions": p.regions,
                "region_definition": REGION_RULES if p.regions == "phantom-regions" else parcels.describe(),
                "unused": names[~used].tolist()}
        return {"w1": self._w1(x_real[:, used], x_syn[:, used], names[used], m_real, m_syn, base, ctx),
                "effect": self._effect(synthetic, real, x_real[:, used] / m_real[:, None],
                                       x_syn[:, used] / np.maximum(m_syn, 1e-9)[:, None], names[used], base, ctx)}

    def _w1(self, x_real: np.ndarray, x_syn: np.ndarray, names: np.ndarray, m_real: np.ndarray,
            m_syn: np.ndarray, base: dict[str, Any], ctx: MetricContext) -> MetricResult:
        per = standardized_w1(x_real, x_syn)
        value = float(np.nanmean(per))
        table = {str(n): {"w1": float(w), "real_mean_ml": float(x_real[:, k].mean()),
                          "real_sd_ml": float(x_real[:, k].std(ddof=1)), "synthetic_mean_ml": float(x_syn[:, k].mean())}
                 for k, (n, w) in enumerate(zip(names, per))}
        details = {**base, "per_volume": table, "brain_mask_ml": {"real_mean": float(m_real.mean()),
                                                                  "synthetic_mean": float(m_syn.mean())}}
        boot = resampled(value, lambda i, j: float(np.nanmean(standardized_w1(x_real[i], x_syn[j]))),
                          [len(x_real), len(x_syn)], ["real", "synthetic"], self.params.bootstrap, ctx, "basic",
                          (0.0, None))
        return MetricResult(value, details=details, higher_is_better=False, **boot)

    def _effect(self, synthetic: Cohort, real: Cohort, f_real: np.ndarray, f_syn: np.ndarray, names: np.ndarray,
                base: dict[str, Any], ctx: MetricContext) -> MetricResult:
        found: dict[str, list[str | None]] = {}
        for role, c in (("real", real), ("synthetic", synthetic)):
            try:
                found[role] = _conditions(c)
            except DataError as exc:
                raise MetricError(f"{self.name}: the {role} set: {exc.message}", exc.hint) from None
        reason = _skip_reason(found)
        if reason:
            return MetricResult(None, status="skipped", message=f"{self.name}.effect: {reason}",
                                higher_is_better=False)
        groups = {role: [str(c) for c in g] for role, g in found.items()}  # every scan has one now
        g_real, g_syn = np.array(groups["real"]), np.array(groups["synthetic"])
        diseases = sorted(set(groups["real"]) - {"healthy"})
        d_real, d_syn = effect_table(f_real, g_real, f_syn, g_syn, diseases)
        value, mae, r = effect_scores(d_real, d_syn)
        rs: list[float] = []

        def stat(i: np.ndarray, j: np.ndarray) -> float:
            weighted, _, corr = effect_scores(*effect_table(f_real[i], g_real[i], f_syn[j], g_syn[j], diseases))
            rs.append(corr)
            return weighted

        boot = resampled(value, stat, [len(f_real), len(f_syn)], ["real", "synthetic"],
                          self.params.bootstrap if np.isfinite(value) else 0, ctx, "basic", (0.0, None))
        table = {d: {str(n): {"d_real": _num(d_real[a, k]), "d_synthetic": _num(d_syn[a, k])}
                     for k, n in enumerate(names)} for a, d in enumerate(diseases)}
        counts = {role: {c: int((np.array(g) == c).sum()) for c in sorted(set(g))} for role, g in groups.items()}
        details = {**base, "correlation": _num(r), "mae": _num(mae), "weights": "|d_real|",
                   "diseases": diseases, "counts": counts, "effects": table,
                   "effect_of": "Cohen's d of the volume as a fraction of the brain mask, disease vs healthy",
                   "correlation_ci": bs.percentile_ci(np.array(rs)) if rs else None}
        return MetricResult(value, details=details, higher_is_better=False, **boot)


def _conditions(c: Cohort) -> list[str | None]:
    from benchgen.conditions import conditions_of

    return conditions_of(c.subject_ids, c.metadata)


def _skip_reason(groups: dict[str, list[str | None]]) -> str | None:
    """Why disease effects cannot be measured, in one line; None when they can."""
    for role, g in groups.items():
        if all(c is None for c in g):
            return f"the {role} set has no condition metadata (condition or diagnosis)"
        if any(c is None for c in g):
            missing = sum(c is None for c in g)
            return f"{missing} scan(s) of the {role} set have no condition"
    real = {str(c) for c in groups["real"]}
    if real == {"healthy"} or "healthy" not in real:
        return f"the real set needs healthy scans and at least one disease, it has {sorted(real)}"
    for cond in sorted(real | {str(c) for c in groups["synthetic"]}):
        for role, g in groups.items():
            n = g.count(cond)
            if n < MIN_GROUP:
                return (f"the {role} set has {n} '{cond}' scan(s); every condition needs at least {MIN_GROUP} "
                        "in both sets")
    return None


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
