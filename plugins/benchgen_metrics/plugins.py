"""The built-in metric plugins: thin wrappers over :mod:`benchgen.functional` that validate inputs,
extract (and cache) features, bootstrap confidence intervals and record everything that made the number.

Every metric's Params has ``bootstrap`` (B resamples of subjects, 0 disables the CI; the runner passes
the suite's B); the resampling is seeded by ``MetricContext.seed``. Bad input raises ``MetricError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from benchgen.errors import ConfigError, MetricError, MissingWeightsError
from benchgen.functional import bootstrap as bs
from benchgen.functional import frechet, memorization, mmd, msssim
from benchgen.functional.prdc import prdc_indicators
from benchgen.interfaces import Metric, MetricContext, MetricResult, SuiteCheck
from benchgen.volumes import Cohort
from benchgen_metrics import common
from benchgen_metrics.distributed import run_split

ZScore = Literal["auto", "real", "none"]


def _check_bootstrap(b: int) -> None:
    if b < 0:
        raise ValueError(f"bootstrap must be >= 0 (0 disables the CI), got {b}")


class MMD(Metric):
    """Unbiased MMD² between the real and synthetic sets (lower is better; can be slightly negative).

    ``kernel="linear"`` on voxels is MONAI's ``MMDMetric`` (the reference study's number).
    ``kernel="gaussian"`` uses a median-heuristic bandwidth, usually on ``features``.
    """

    version = "1"
    higher_is_better = False

    @dataclass(frozen=True)
    class Params:
        kernel: Literal["linear", "gaussian"] = "linear"
        features: str = "voxels"  # "voxels" (flattened volumes) or a features plugin name
        weights: str | None = None
        zscore: ZScore = "auto"
        bandwidth: float | None = None  # gaussian only; None = median heuristic
        bootstrap: int = 200

        def __post_init__(self) -> None:
            _check_bootstrap(self.bootstrap)
            if self.bandwidth is not None and self.bandwidth <= 0:
                raise ValueError(f"bandwidth must be > 0, got {self.bandwidth}")

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> MetricResult:
        p = self.params
        common.check_cohorts(self.name, synthetic=synthetic, real=real)
        details: dict[str, Any] = {"kernel": p.kernel, "n_real": len(real), "n_synthetic": len(synthetic)}
        if p.features == "voxels":
            x, y = common.flatten(real), common.flatten(synthetic)
        else:
            ext = _extractor_or_skip(self.name, p.features, p.weights)
            if isinstance(ext, MetricResult):
                return ext
            x, y, info = common.real_and_synthetic_features(self.name, ext, synthetic, real, ctx)
            if common.resolve_zscore(p.zscore, ext):
                x, y = common.zscore_against_real(x, y)
            details.update(info)
        if p.kernel == "linear":
            kxx, kyy, kxy = mmd.gram_blocks(x, y)
        else:
            kxx, kyy, kxy, sigma = mmd.gaussian_gram(np.asarray(x), np.asarray(y), p.bandwidth)
            details["bandwidth"] = sigma
        value = mmd.mmd_from_gram(kxx, kyy, kxy)
        ci = bs.bootstrap_ci(lambda i, j: mmd.mmd_from_gram(kxx, kyy, kxy, i, j),
                             [len(real), len(synthetic)], p.bootstrap, ctx.seed)
        return MetricResult(value, ci, details=details, higher_is_better=False)


def _extractor_or_skip(metric: str, features: str, weights: str | None) -> Any:
    """The extractor, or a `skipped` result carrying the download instructions for missing weights."""
    ext = common.make_extractor(metric, features, weights)
    try:
        ext.weights_sha256()
    except MissingWeightsError as exc:
        return MetricResult(None, status="skipped", message=f"{metric}: {exc}")
    return ext


class FID(Metric):
    """Fréchet distance between Gaussian fits of features (lower is better).

    ``features="radiomics"`` (default, weight-free, offline) gives the Fréchet Radiomics Distance;
    ``medicalnet-resnet10``/``-50`` give the 3D FID of the reference study (local weights). Scales differ
    between extractors: never compare across them.
    """

    version = "1"
    higher_is_better = False

    @dataclass(frozen=True)
    class Params:
        features: str = "radiomics"
        weights: str | None = None  # MedicalNet weights file (or $BENCHGEN_MEDICALNET_WEIGHTS)
        eps: float = 1e-6  # added to both covariances' diagonals (rank-deficient with few samples)
        zscore: ZScore = "auto"  # "auto": z-score against the real set for radiomics only
        bootstrap: int = 200

        def __post_init__(self) -> None:
            _check_bootstrap(self.bootstrap)
            if self.eps < 0:
                raise ValueError(f"eps must be >= 0, got {self.eps}")

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> MetricResult:
        p = self.params
        common.check_cohorts(self.name, synthetic=synthetic, real=real)
        ext = _extractor_or_skip(self.name, p.features, p.weights)
        if isinstance(ext, MetricResult):
            return ext
        f_real, f_syn, info = common.real_and_synthetic_features(self.name, ext, synthetic, real, ctx)
        z = common.resolve_zscore(p.zscore, ext)
        if z:
            f_real, f_syn = common.zscore_against_real(f_real, f_syn)
        z_real, z_syn = frechet.project_to_span(f_real, f_syn)  # exact; makes the bootstrap cheap

        def fd(i: np.ndarray | None = None, j: np.ndarray | None = None) -> float:
            a = z_real if i is None else z_real[i]
            b = z_syn if j is None else z_syn[j]
            return frechet.frechet_distance(*frechet.gaussian_stats(a), *frechet.gaussian_stats(b), eps=p.eps)

        value = fd()
        ci = bs.bootstrap_ci(fd, [len(real), len(synthetic)], p.bootstrap, ctx.seed)
        details = {**info, "eps": p.eps, "zscore": z, "n_real": len(real), "n_synthetic": len(synthetic)}
        return MetricResult(value, ci, details=details, higher_is_better=False)


_REFERENCE_MEMO: dict[tuple[Any, ...], tuple[float, tuple[float, float] | None, int]] = {}


class MSSSIM(Metric):
    """Mean pairwise 3D MS-SSIM within the synthetic set (diversity; lower = more diverse).

    ``reference`` is the same number for the real set: what matters is being close to it (far above =
    mode collapse, far below = noise). Ranked as lower-is-better.
    """

    version = "1"
    higher_is_better = False
    tiny_params = {"kernel_size": 3, "scales": 2}  # fits the contract tests' 8×12×8 volumes

    @dataclass(frozen=True)
    class Params:
        kernel_size: int = 4
        kernel_sigma: float = 1.5
        data_range: float = 1.0
        scales: int = 5
        k1: float = 0.01
        k2: float = 0.03
        max_pairs: int = 0  # 0 = all pairs; else a seeded random subset of this many pairs per set
        bootstrap: int = 200

        def __post_init__(self) -> None:
            _check_bootstrap(self.bootstrap)
            if not 1 <= self.scales <= 5:
                raise ValueError(f"scales must be 1..5, got {self.scales}")
            if self.kernel_size < 1 or self.kernel_sigma <= 0 or self.data_range <= 0:
                raise ValueError("kernel_size must be >= 1, kernel_sigma and data_range > 0")
            if self.max_pairs < 0:
                raise ValueError(f"max_pairs must be >= 0, got {self.max_pairs}")

    def check_suite(self, ctx: SuiteCheck) -> None:
        try:
            msssim.check_kernel_fits(ctx.shape, self.params.kernel_size, self.params.scales)
        except ValueError as exc:
            raise ConfigError(f"{ctx.where}.params.kernel_size: {exc}") from None

    def _set_value(self, cohort: Cohort, ctx: MetricContext, role: str, seed: int
                   ) -> tuple[float, tuple[float, float] | None, int]:
        p = self.params
        n = len(cohort)
        pairs = msssim.sample_pairs(n, p.max_pairs or None, seed)

        def work(idx: np.ndarray) -> np.ndarray:
            return msssim.ms_ssim_within(
                cohort.data, p.data_range, p.kernel_size, p.kernel_sigma, p.scales, None, p.k1, p.k2,
                pairs=pairs[idx], progress=lambda d, t: ctx.progress(f"{self.name}: {role} pairs", d, t))

        vals = run_split(len(pairs), work)
        value = float(vals.mean())
        if len(pairs) == n * (n - 1) // 2:  # all pairs known: resample subjects
            mat = np.full((n, n), np.nan)
            mat[pairs[:, 0], pairs[:, 1]] = vals
            mat[pairs[:, 1], pairs[:, 0]] = vals

            def stat(i: np.ndarray) -> float:
                sub = mat[np.ix_(i, i)]
                off = i[:, None] != i[None, :]  # a subject paired with its own copy is not a pair
                return float(np.nanmean(sub[off])) if off.any() else float("nan")

            ci = bs.bootstrap_ci(stat, [n], p.bootstrap, ctx.seed)
        else:  # a sample of pairs: resample the pairs
            ci = bs.bootstrap_ci(lambda i: float(vals[i].mean()), [len(vals)], p.bootstrap, ctx.seed)
        return value, ci, len(pairs)

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> MetricResult:
        p = self.params
        common.check_cohorts(self.name, synthetic=synthetic, real=real)
        try:
            msssim.check_kernel_fits(synthetic.shape, p.kernel_size, p.scales)
        except ValueError as exc:
            raise MetricError(f"{self.name}: {exc}") from None
        value, ci, n_syn = self._set_value(synthetic, ctx, "synthetic", ctx.seed)
        # The real set's value is the same for every generator: memoised per real set, params and seed.
        key = (ctx.real_fingerprint, self.fingerprint(), ctx.seed) if ctx.real_fingerprint else None
        if key is not None and key in _REFERENCE_MEMO:
            ref, ref_ci, n_real = _REFERENCE_MEMO[key]
        else:
            ref, ref_ci, n_real = self._set_value(real, ctx, "real", ctx.seed + 1)
            if key is not None:
                _REFERENCE_MEMO[key] = (ref, ref_ci, n_real)
        details = {"reference_ci": ref_ci, "difference": value - ref, "pairs_synthetic": n_syn,
                   "pairs_real": n_real, "weights": list(msssim.msssim_weights(p.scales)),
                   "pairs_sampled": bool(p.max_pairs), "n_real": len(real), "n_synthetic": len(synthetic)}
        return MetricResult(value, ci, reference=ref, details=details, higher_is_better=False)


class PRDC(Metric):
    """Precision, recall, density, coverage (Naeem et al., 2020) on features; all higher is better."""

    version = "1"
    higher_is_better = True

    @dataclass(frozen=True)
    class Params:
        features: str = "radiomics"
        weights: str | None = None
        k: int = 5
        zscore: ZScore = "auto"
        bootstrap: int = 200

        def __post_init__(self) -> None:
            _check_bootstrap(self.bootstrap)
            if self.k < 1:
                raise ValueError(f"k must be >= 1, got {self.k}")

    def check_suite(self, ctx: SuiteCheck) -> None:
        for role, n in (("evaluation.n_samples", ctx.n_samples), ("the real set", ctx.n_real)):
            if n is not None and self.params.k >= n:
                raise ConfigError(f"{ctx.where}.params.k: k = {self.params.k} needs more than {self.params.k} "
                                  f"volumes per set, {role} has {n}", f"lower k below {n}")

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> dict[str, MetricResult] | MetricResult:
        p = self.params
        common.check_cohorts(self.name, synthetic=synthetic, real=real)
        if p.k >= min(len(real), len(synthetic)):
            raise MetricError(f"{self.name}: k={p.k} needs more than {p.k} volumes in each set "
                              f"(got {len(real)} real, {len(synthetic)} synthetic)")
        ext = _extractor_or_skip(self.name, p.features, p.weights)
        if isinstance(ext, MetricResult):
            return ext
        f_real, f_syn, info = common.real_and_synthetic_features(self.name, ext, synthetic, real, ctx)
        z = common.resolve_zscore(p.zscore, ext)
        if z:
            f_real, f_syn = common.zscore_against_real(f_real, f_syn)
        ind = prdc_indicators(f_real, f_syn, p.k)
        details = {**info, "k": p.k, "zscore": z, "n_real": len(real), "n_synthetic": len(synthetic),
                   "ci_note": "per-sample terms resampled with the neighbourhoods held fixed"}
        out = {}
        for key, terms in ind.items():
            ci = bs.bootstrap_ci(lambda i, t=terms: float(t[i].mean()), [len(terms)], p.bootstrap, ctx.seed)
            out[key] = MetricResult(float(terms.mean()), ci, details=details, higher_is_better=True)
        return out


class Memorization(Metric):
    """Share of synthetic volumes closer to a training scan than any held-out real scan is (lower better).

    Distances are Euclidean on voxels (or on ``features``); the threshold is the ``quantile`` of the held-out
    real scans' nearest-training distances. Flagged volumes and their nearest training subjects are in details.
    """

    version = "1"
    higher_is_better = False
    needs_train = True

    @dataclass(frozen=True)
    class Params:
        features: str = "voxels"
        weights: str | None = None
        quantile: float = 0.0
        bootstrap: int = 200
        max_flagged: int = 100  # how many flagged volumes are listed in details

        def __post_init__(self) -> None:
            _check_bootstrap(self.bootstrap)
            if not 0.0 <= self.quantile <= 1.0:
                raise ValueError(f"quantile must be in [0, 1], got {self.quantile}")

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> MetricResult:
        p = self.params
        if train is None:
            raise MetricError(f"{self.name}: needs the training set (benchgen evaluate --train FOLDER)")
        common.check_cohorts(self.name, synthetic=synthetic, real=real, train=train)
        if p.features == "voxels":
            xs, xr, xt = synthetic.data, real.data, train.data
        else:
            ext = _extractor_or_skip(self.name, p.features, p.weights)
            if isinstance(ext, MetricResult):
                return ext
            xr, xs, _ = common.real_and_synthetic_features(self.name, ext, synthetic, real, ctx)
            xt = ext.extract(train.data, ctx.device)
        d_syn, nn_syn = memorization.nearest_neighbours(xs, xt)
        d_real, _ = memorization.nearest_neighbours(xr, xt)
        share, flags, thr = memorization.memorization_share(d_syn, d_real, p.quantile)
        flagged = [{"synthetic_index": int(i), "synthetic_id": synthetic.subject_ids[i],
                    "train_id": train.subject_ids[int(nn_syn[i])], "distance": float(d_syn[i])}
                   for i in np.flatnonzero(flags)[: p.max_flagged]]
        ci = bs.bootstrap_ci(lambda i: float(flags[i].mean()), [len(flags)], p.bootstrap, ctx.seed)
        details = {"threshold": thr, "quantile": p.quantile, "features": p.features,
                   "n_flagged": int(flags.sum()), "flagged": flagged,
                   "real_to_train_min": float(d_real.min()), "synthetic_to_train_median": float(np.median(d_syn)),
                   "n_real": len(real), "n_synthetic": len(synthetic), "n_train": len(train)}
        return MetricResult(share, ci, details=details, higher_is_better=False)
