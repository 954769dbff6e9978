"""Intensity steps: N4 bias-field correction, non-local-means denoising, normalisation inside the
brain mask, scaling to [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from benchgen.errors import DataError
from benchgen.interfaces import PrepContext, Preprocessor
from benchgen.volumes import Volume
from benchgen_data.sitk_io import from_sitk, to_sitk


def _foreground(volume: Volume, min_voxels: int = 8) -> np.ndarray:
    fg = volume.array != 0
    if int(fg.sum()) < min_voxels:
        raise DataError(f"{volume.source or volume.subject_id}: fewer than {min_voxels} non-zero voxels")
    return fg


@dataclass(frozen=True)
class ScaleUnitParams:
    # "percentile": lo, hi = the `lower`, `upper` percentiles of the foreground, values clipped;
    # "minmax": lo, hi = foreground min and max. Foreground = non-zero voxels; background stays 0.
    method: Literal["percentile", "minmax"] = "percentile"
    lower: float = 0.0
    upper: float = 99.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.lower < self.upper <= 100.0:
            raise ValueError(f"need 0 ≤ lower < upper ≤ 100, got {self.lower}, {self.upper}")


class ScaleUnit(Preprocessor):
    """Map the foreground to [0, 1]: ``clip((x - lo) / (hi - lo), 0, 1)``; background (exact 0)
    stays exactly 0, so skull-stripped and z-scored inputs both keep a black background."""

    version = "1"
    Params = ScaleUnitParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        p = self.params
        fg = _foreground(volume, 1)
        vals = volume.array[fg]
        if p.method == "minmax":
            lo, hi = float(vals.min()), float(vals.max())
        else:
            lo, hi = (float(v) for v in np.percentile(vals, [p.lower, p.upper]))
        if not hi - lo > 1e-6 * max(abs(hi), abs(lo), 1e-12):
            where = volume.source or volume.subject_id
            raise DataError(f"{where}: constant foreground ({lo:g}); cannot scale to [0, 1]")
        out = np.clip((volume.array - lo) / (hi - lo), 0.0, 1.0)
        out[~fg] = 0.0
        return volume.replace(out)


@dataclass(frozen=True)
class NormalizeParams:
    method: Literal["zscore"] = "zscore"


class NormalizeInMask(Preprocessor):
    """The paper's last intensity step: centre and normalise inside the brain mask (the non-zero
    voxels after skull stripping) — ``(x - mean) / sd`` — and set the background to exactly 0."""

    version = "1"
    Params = NormalizeParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        fg = _foreground(volume, 100)
        vals = volume.array[fg].astype(np.float64)
        sd = float(vals.std())
        if sd <= 0:
            raise DataError(f"{volume.source or volume.subject_id}: constant inside the brain mask")
        out = np.zeros_like(volume.array)
        out[fg] = ((vals - vals.mean()) / sd).astype(np.float32)
        out[fg & (out == 0)] = 1e-6  # keep brain voxels distinguishable from the background
        return volume.replace(out)


@dataclass(frozen=True)
class N4Params:
    shrink: int = 4                                   # fit on a grid this many times coarser (speed)
    iterations: tuple[int, ...] = (50, 50)            # per fitting level
    convergence: float = 1e-3
    mask: Literal["otsu", "nonzero"] = "otsu"         # where the bias is fitted

    def __post_init__(self) -> None:
        if not 1 <= self.shrink <= 8:
            raise ValueError(f"shrink must be within [1, 8], got {self.shrink}")
        if not self.iterations or any(i < 1 for i in self.iterations):
            raise ValueError("iterations must be a non-empty list of positive integers")


class N4BiasCorrection(Preprocessor):
    """N4 bias-field correction (SimpleITK, Tustison et al.) fitted on a shrunken image; the full-
    resolution log bias field is then divided out. Values are kept on the input's scale."""

    version = "1"
    Params = N4Params

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        import SimpleITK as sitk

        p = self.params
        arr = volume.array
        offset = float(arr.min())
        positive = arr - offset + 1e-3 if offset <= 0 else arr  # N4 fits log intensities: needs > 0
        image = to_sitk(positive.astype(np.float32), volume.affine)
        if p.mask == "nonzero":
            mask = to_sitk((arr != 0).astype(np.uint8), volume.affine)
        else:
            mask = sitk.OtsuThreshold(image, 0, 1, 200)
        small = sitk.Shrink(image, [p.shrink] * 3)
        small_mask = sitk.Shrink(mask, [p.shrink] * 3)
        n4 = sitk.N4BiasFieldCorrectionImageFilter()
        n4.SetNumberOfThreads(1)  # identical results whatever the machine's thread count
        n4.SetMaximumNumberOfIterations(list(p.iterations))
        n4.SetConvergenceThreshold(p.convergence)
        n4.Execute(small, small_mask)
        # the field is smooth: evaluate it on the small grid and interpolate (the full-resolution
        # B-spline evaluation costs more than the fit)
        log_bias = sitk.Resample(n4.GetLogBiasFieldAsImage(small), image, sitk.Transform(), sitk.sitkLinear, 0.0)
        bias = np.exp(from_sitk(log_bias)).astype(np.float32)
        out = arr / bias
        if p.mask == "nonzero":
            out[arr == 0] = 0.0
        return volume.replace(out.astype(np.float32))


def noise_sd(array: np.ndarray) -> float:
    """Robust noise sd from differences of neighbouring voxels inside the foreground:
    ``1.4826 · MAD(d) / √2`` (differences of two i.i.d. noisy voxels have variance 2σ²; the MAD ignores
    edges). Written here because scikit-image's estimate_sigma needs PyWavelets, not a dependency."""
    d = np.diff(array, axis=0)
    fg = (array[1:] != 0) & (array[:-1] != 0)
    vals = d[fg] if fg.sum() > 100 else d.ravel()
    if vals.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(vals - np.median(vals))) / np.sqrt(2.0))


@dataclass(frozen=True)
class DenoiseParams:
    patch_size: int = 3
    patch_distance: int = 2    # search radius in voxels (5×5×5 search: speed)
    h: float = 0.8             # filter strength, in units of the estimated noise sd
    crop_to_foreground: bool = True  # denoise only the bounding box of non-zero voxels (speed)

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.patch_distance < 1 or self.h <= 0:
            raise ValueError("patch_size and patch_distance must be ≥ 1 and h > 0")


class DenoiseNLM(Preprocessor):
    """Non-local-means denoising (scikit-image ``denoise_nl_means``, fast mode, noise sd estimated
    from the image) — the paper's first step (Manjón's NLM in AssemblyNet)."""

    version = "1"
    Params = DenoiseParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        from skimage.restoration import denoise_nl_means

        p = self.params
        arr = volume.array
        box = tuple(slice(None) for _ in range(3))
        if p.crop_to_foreground:
            nz = np.nonzero(arr)
            if len(nz[0]) == 0:
                raise DataError(f"{volume.source or volume.subject_id}: image is all zero")
            box = tuple(slice(max(int(a.min()) - 2, 0), int(a.max()) + 3) for a in nz)
        sub = arr[box].astype(np.float32)
        sigma = noise_sd(sub)
        if sigma <= 0:
            return volume
        den = denoise_nl_means(sub, patch_size=p.patch_size, patch_distance=p.patch_distance,
                               h=p.h * sigma, sigma=sigma, fast_mode=True, preserve_range=True)
        out = arr.copy()
        out[box] = den.astype(np.float32)
        return volume.replace(out)
