"""The metric ``ms-ssim``: diversity as the mean pairwise 3D MS-SSIM within a set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchgen.errors import ConfigError, MetricError
from benchgen.functional import bootstrap as bs
from benchgen.functional import msssim
from benchgen.interfaces import Metric, MetricContext, MetricResult, SuiteCheck
from benchgen.volumes import Cohort
from benchgen_metrics import common
from benchgen_metrics.distributed import run_split
from benchgen_metrics.resampling import check_bootstrap, resampled

_REFERENCE_MEMO: dict[tuple[Any, ...], tuple[float, tuple[float, float] | None, int]] = {}


class MSSSIM(Metric):
    """Mean pairwise 3D MS-SSIM within the synthetic set (diversity; lower = more diverse).

    ``reference`` is the same number for the real set: what matters is being close to it (far above =
    mode collapse, far below = noise). Ranked as lower-is-better.
    """

    version = "2"  # 2: replicates as mmd v2 (the real reference resamples the shared stream)
    kind = "diversity"
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
            check_bootstrap(self.bootstrap)
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

    def _set_value(self, cohort: Cohort, ctx: MetricContext, role: bs.Role, seed: int
                   ) -> tuple[float, dict[str, Any], int]:
        p = self.params
        n = len(cohort)
        pairs = msssim.sample_pairs(n, p.max_pairs or None, seed)

        def work(idx: np.ndarray) -> np.ndarray:
            return msssim.ms_ssim_within(
                common.voxels(cohort), p.data_range, p.kernel_size, p.kernel_sigma, p.scales, None, p.k1, p.k2,
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

            boot = resampled(value, stat, [n], [role], p.bootstrap, ctx)
        else:  # a sample of pairs: resample the pairs
            boot = resampled(value, lambda i: float(vals[i].mean()), [len(vals)], [role], p.bootstrap, ctx)
        return value, boot, len(pairs)

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> MetricResult:
        p = self.params
        common.check_cohorts(self.name, synthetic=synthetic, real=real)
        try:
            msssim.check_kernel_fits(synthetic.shape, p.kernel_size, p.scales)
        except ValueError as exc:
            raise MetricError(f"{self.name}: {exc}") from None
        value, boot, n_syn = self._set_value(synthetic, ctx, "synthetic", ctx.seed)
        # The real set's value is the same for every generator: memoised per real set, params and seed.
        key = (ctx.real_fingerprint, self.fingerprint(), ctx.seed) if ctx.real_fingerprint else None
        if key is not None and key in _REFERENCE_MEMO:
            ref, ref_ci, n_real = _REFERENCE_MEMO[key]
        else:
            ref, ref_boot, n_real = self._set_value(real, ctx, "real", ctx.seed + 1)
            ref_ci = ref_boot["ci"]
            if key is not None:
                _REFERENCE_MEMO[key] = (ref, ref_ci, n_real)
        details = {"reference_ci": ref_ci, "difference": value - ref, "pairs_synthetic": n_syn,
                   "pairs_real": n_real, "weights": list(msssim.msssim_weights(p.scales)),
                   "pairs_sampled": bool(p.max_pairs), "n_real": len(real), "n_synthetic": len(synthetic)}
        return MetricResult(value, reference=ref, details=details, higher_is_better=False, **boot)

