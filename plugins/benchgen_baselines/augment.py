"""Classical augmentation as rows of a board: what a group with a few real scans does instead of training a
generator.

* ``augment`` — each output is one training scan of the requested condition through MONAI's random
  transforms, as used in training pipelines: an affine (rotation, scale, translation), a 3D elastic
  deformation, a bias field, a gamma (contrast) change and Gaussian noise.
* ``mixup``   — each output is a convex blend of two training scans of the same condition (mixup with the
  weight drawn from Beta(alpha, alpha)).

Both keep the condition of the scans they start from (they condition on ``condition`` like a conditional
generator: the runner asks them for its condition table) and record the source subject of every output
(``last_subject_ids``): their outputs are derived copies of training scans, which the memorization metric
flags — correctly. Every output depends only on (seed, row, source scan), so draws are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from benchgen.interfaces import FitContext, ProgressFn
from benchgen.volumes import Cohort
from benchgen_baselines.generators import ScanPool


def row_seed(seed: int, row: int, stream: int = 0) -> int:
    """An independent 32-bit seed per (draw seed, output row, stream): an output does not depend on how many
    others are drawn with it."""
    return int(np.random.SeedSequence([int(seed), int(row), int(stream)]).generate_state(1)[0])


def voxel_mm(affine: np.ndarray) -> np.ndarray:
    """Voxel size (mm) along each array axis, from the affine's column norms."""
    return np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0)


def elastic_magnitude(displacement_vox: float, sigma_vox: float) -> float:
    """The ``magnitude`` MONAI's Rand3DElastic needs for a displacement of about `displacement_vox` (standard
    deviation, voxels) at smoothing `sigma_vox`: it smooths uniform(-1, 1) noise (sd 1/√3) with a 3D Gaussian,
    which divides its sd by about (2√π·σ)^(3/2), then multiplies by the magnitude."""
    smoothed_sd = (1 / math.sqrt(3)) / (2 * math.sqrt(math.pi) * max(sigma_vox, 0.5)) ** 1.5
    return displacement_vox / smoothed_sd


# ------------------------------------------------------------------------------------- augment
@dataclass(frozen=True)
class AugmentParams:
    rotate_deg: float = 8.0  # rotation about each axis, uniform in ±rotate_deg
    scale: float = 0.08  # isotropic-per-axis scaling, uniform in 1 ± scale
    translate_mm: float = 4.0  # shift along each axis, uniform in ±translate_mm
    elastic_mm: float = 1.5  # elastic displacement (about its standard deviation, mm); 0: none
    elastic_sigma_mm: float = 10.0  # smoothness of the elastic field (Gaussian sigma, mm)
    bias: float = 0.1  # bias field: polynomial coefficients (degree 3) uniform in [0, bias]; 0: none
    gamma: tuple[float, float] = (0.7, 1.5)  # contrast: intensity ** gamma, gamma uniform in this range
    noise_std: float = 0.02  # Gaussian noise, its sd uniform in [0, noise_std] (intensities in [0, 1]); 0: none
    prob: float = 0.5  # chance of each of elastic, bias, gamma and noise per output (the affine is always on)

    def __post_init__(self) -> None:
        for name in ("rotate_deg", "scale", "translate_mm", "elastic_mm", "bias", "noise_std"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be ≥ 0, got {value}")
        if not self.elastic_sigma_mm > 0:
            raise ValueError(f"elastic_sigma_mm must be > 0, got {self.elastic_sigma_mm}")
        if self.scale >= 1:
            raise ValueError(f"scale must be < 1 (a factor 1 ± scale), got {self.scale}")
        lo, hi = self.gamma
        if not 0 < lo <= hi:
            raise ValueError(f"gamma must be a range [low, high] with 0 < low ≤ high, got {list(self.gamma)}")
        if not 0 <= self.prob <= 1:
            raise ValueError(f"prob must be in [0, 1], got {self.prob}")


class Augment(ScanPool):
    """Training scans of the requested condition through MONAI's random spatial and intensity transforms."""

    records_sources: ClassVar[bool] = True  # every volume derives from one training scan: records name it
    version = "1"
    source = "train"
    Params = AugmentParams

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._voxel_mm = np.ones(3)

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        self._set_pool(train)
        self._voxel_mm = voxel_mm(train.affine)

    def _state_meta(self) -> dict[str, Any]:
        return {"voxel_mm": [float(v) for v in self._voxel_mm]}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        self._voxel_mm = np.asarray(meta["voxel_mm"], dtype=np.float64)

    def _transform(self, scan: torch.Tensor, seed: int) -> torch.Tensor:
        """One augmented copy of `scan` (1×D×H×W): every random choice drawn from `seed`."""
        from monai.transforms import Rand3DElastic, RandAdjustContrast, RandAffine, RandBiasField, RandGaussianNoise

        p = self.params
        rng = np.random.default_rng(seed)
        spatial: dict[str, Any] = dict(
            rotate_range=[math.radians(p.rotate_deg)] * 3, scale_range=[p.scale] * 3,
            translate_range=[float(p.translate_mm / v) for v in self._voxel_mm], padding_mode="zeros")
        elastic = p.elastic_mm > 0 and rng.random() < p.prob
        if elastic:  # one resampling for the affine and the elastic field, not two (each blurs)
            sigma = float(p.elastic_sigma_mm / self._voxel_mm.mean())
            mag = elastic_magnitude(float(p.elastic_mm / self._voxel_mm.mean()), sigma)
            steps: list[Any] = [Rand3DElastic(sigma_range=(sigma, sigma), magnitude_range=(mag, mag), prob=1.0,
                                              **spatial)]
        else:
            steps = [RandAffine(prob=1.0, **spatial)]
        if p.bias > 0:
            steps.append(RandBiasField(degree=3, coeff_range=(0.0, p.bias), prob=p.prob))
        steps.append(RandAdjustContrast(prob=p.prob, gamma=tuple(p.gamma)))
        if p.noise_std > 0:
            steps.append(RandGaussianNoise(prob=p.prob, std=p.noise_std))
        x: Any = scan
        for k, step in enumerate(steps):
            step.set_random_state(seed=row_seed(seed, 0, k + 1))
            x = step(x)
        return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.as_subclass(torch.Tensor),
                               dtype=torch.float32).clamp_(0.0, 1.0)

    def _emit(self, idx: np.ndarray, seed: int, progress: ProgressFn) -> torch.Tensor:
        assert self._scans is not None
        out = torch.empty((len(idx), *self._scans.shape[1:]), dtype=torch.float32)
        for row, i in enumerate(idx):
            out[row] = self._transform(self._scans[int(i)].clone(), row_seed(seed, row))
            progress("augmenting scans", row + 1, len(idx))
        return out

    def sampler_info(self) -> dict[str, Any]:
        return {**super().sampler_info(), "sampler": "monai-augment"}


# --------------------------------------------------------------------------------------- mixup
@dataclass(frozen=True)
class MixupParams:
    alpha: float = 0.4  # the blend weight of the first scan is drawn from Beta(alpha, alpha)

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and math.isfinite(self.alpha)):
            raise ValueError(f"alpha must be > 0, got {self.alpha}")


class Mixup(ScanPool):
    """Each output blends its source training scan with a second training scan of the same condition:
    λ·a + (1 − λ)·b with λ ~ Beta(alpha, alpha). Its source subject is `a`; `last_partner_ids` names `b`."""

    records_sources: ClassVar[bool] = True  # every volume derives from one training scan: records name it
    version = "1"
    source = "train"
    Params = MixupParams

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        self._set_pool(train)

    def _emit(self, idx: np.ndarray, seed: int, progress: ProgressFn) -> torch.Tensor:
        assert self._scans is not None
        conds = self._conds or [None] * len(self._ids)
        out = torch.empty((len(idx), *self._scans.shape[1:]), dtype=torch.float32)
        partners, weights = [], []
        for row, i in enumerate(idx):
            rng = np.random.default_rng(row_seed(seed, row))
            same = [j for j, c in enumerate(conds) if c == conds[int(i)] and j != int(i)] or [int(i)]
            j = same[int(rng.integers(len(same)))]
            lam = float(rng.beta(self.params.alpha, self.params.alpha))
            out[row] = (lam * self._scans[int(i)] + (1 - lam) * self._scans[j]).clamp_(0.0, 1.0)
            partners.append(self._ids[j])
            weights.append(lam)
        self._last = {**self._last, "partner_ids": partners, "weights": weights}
        progress("blending scans", len(idx), len(idx))
        return out

    def last_partner_ids(self) -> list[str]:
        """The second subject blended into each output of the last draw, in order."""
        return list(self._last.get("partner_ids", []))

    def sampler_info(self) -> dict[str, Any]:
        return {**super().sampler_info(), "sampler": "mixup-same-condition", "alpha": self.params.alpha}
