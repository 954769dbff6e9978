"""Affine registration to the MNI152 template (SimpleITK, Mattes mutual information) and brain
extraction through the registered template's brain mask."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from benchgen.data.qc import add_qc
from benchgen.errors import DataError
from benchgen.interfaces import PrepContext, Preprocessor
from benchgen.volumes import Volume
from benchgen_data.geometry import voxel_sizes
from benchgen_data.sitk_io import from_sitk, to_sitk
from benchgen_data.templates import MNI_BOX_MM, MNI_BOX_ORIGIN_MM, load_template

BRAIN_RADIUS_MM = 80.0


@functools.lru_cache(maxsize=4)
def _fixed(template_mm: float, mask_dilate_mm: float):
    """The template and its (dilated) brain mask as SimpleITK images, cached per process."""
    import SimpleITK as sitk
    from scipy import ndimage

    tpl = load_template(template_mm)
    mask = tpl.mask
    if mask_dilate_mm > 0:
        r = max(1, int(round(mask_dilate_mm / tpl.voxel_mm)))
        mask = ndimage.binary_dilation(mask, iterations=r)
    fixed = to_sitk(tpl.t1.astype(np.float32), tpl.affine)
    return fixed, sitk.Cast(to_sitk(mask.astype(np.uint8), tpl.affine), sitk.sitkUInt8)


def box_grid(voxel_mm: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """Shape and affine of the paper's MNI box (181×217×181 mm) at `voxel_mm`."""
    shape = tuple(int(round(b / voxel_mm)) for b in MNI_BOX_MM)
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = MNI_BOX_ORIGIN_MM
    return shape, affine  # type: ignore[return-value]


@dataclass(frozen=True)
class RegisterParams:
    voxel_mm: float = 1.0                     # output grid: the MNI box at this voxel size
    stages: Literal["rigid+affine", "affine"] = "rigid+affine"
    working_mm: float = 2.0                   # both images are block-averaged to about this before registering
    shrink_factors: tuple[int, ...] = (2, 1)  # multi-resolution pyramid on the working grid (coarse to fine)
    smoothing_mm: tuple[float, ...] = (2.0, 0.0)
    sampling: float = 0.1                     # fraction of fixed-mask voxels sampled per iteration
    bins: int = 32                            # Mattes MI histogram bins
    iterations: int = 100                     # per level
    seed: int = 0                             # the metric's random sampling (deterministic)

    def __post_init__(self) -> None:
        if len(self.shrink_factors) != len(self.smoothing_mm) or not self.shrink_factors:
            raise ValueError("shrink_factors and smoothing_mm need the same, non-zero length")
        if not 0 < self.sampling <= 1:
            raise ValueError(f"sampling must be within (0, 1], got {self.sampling}")
        if not 0.5 <= self.working_mm <= 4:
            raise ValueError(f"working_mm must be within [0.5, 4], got {self.working_mm}")
        if self.bins < 8 or self.iterations < 1:
            raise ValueError("bins must be ≥ 8 and iterations ≥ 1")


class RegisterMNI(Preprocessor):
    """Affine registration to nilearn's MNI152 2009a template with Mattes mutual information
    (SimpleITK), then resampling onto the paper's MNI box (181×217×181 at 1 mm by default).

    Moments-based initialisation, a rigid then an affine stage, each multi-resolution; the metric is
    sampled inside the template's brain mask dilated by 10 mm, so a skull in the input is ignored.
    QC: the final metric, the normalised cross-correlation with the template inside its mask and the
    determinant of the affine (native / MNI volume).
    """

    version = "1"
    Params = RegisterParams

    def _register(self, fixed, fmask, moving, initial):
        import SimpleITK as sitk

        p = self.params
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=p.bins)
        reg.SetMetricFixedMask(fmask)
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        # SimpleITK reads seed 0 as "seed from the wall clock": shift by one to stay deterministic
        reg.SetMetricSamplingPercentage(p.sampling, p.seed + 1)
        reg.SetNumberOfThreads(1)  # threaded metric sums change with the thread count; keep runs identical
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3,
                                                     numberOfIterations=p.iterations,
                                                     gradientMagnitudeTolerance=1e-6)
        # Scales as ITK's physical-shift estimator computes them, but fixed: that estimator samples
        # points at random with an unseeded generator, which made runs differ. A unit change of a
        # rotation angle or matrix entry moves brain points by about BRAIN_RADIUS_MM; a translation by 1.
        n = initial.GetNumberOfParameters()
        n_lin = 3 if n == 6 else 9
        reg.SetOptimizerScales([BRAIN_RADIUS_MM ** 2] * n_lin + [1.0] * (n - n_lin))
        reg.SetShrinkFactorsPerLevel(list(p.shrink_factors))
        reg.SetSmoothingSigmasPerLevel(list(p.smoothing_mm))
        reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
        reg.SetInitialTransform(initial, inPlace=False)
        out = reg.Execute(fixed, moving)
        return out, reg.GetMetricValue()

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        import SimpleITK as sitk

        # ITK's threaded reductions (image moments, metric sums) merge partial sums in completion
        # order, so results vary in the last bits between runs; one thread makes them identical.
        old = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
        try:
            return self._call(volume)
        finally:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(old)

    def _call(self, volume: Volume) -> Volume:
        import SimpleITK as sitk

        p = self.params
        fixed, fmask = _fixed(p.working_mm, 10.0)
        arr = volume.array.astype(np.float32)
        moving = to_sitk(arr, volume.affine)
        factor = max(1, int(round(p.working_mm / float(voxel_sizes(volume.affine).min()))))
        small = sitk.BinShrink(moving, [factor] * 3) if factor > 1 else moving  # block average: anti-aliased
        try:
            init = sitk.CenteredTransformInitializer(fixed, small, sitk.Euler3DTransform(),
                                                     sitk.CenteredTransformInitializerFilter.MOMENTS)
            transform = init
            if p.stages == "rigid+affine":
                rigid, _ = self._register(fixed, fmask, small, init)
                rigid = sitk.CompositeTransform(rigid).GetNthTransform(0) if isinstance(
                    rigid, sitk.CompositeTransform) else rigid
                rigid = sitk.Euler3DTransform(rigid)
                affine = sitk.AffineTransform(3)
                affine.SetMatrix(rigid.GetMatrix())
                affine.SetTranslation(rigid.GetTranslation())
                affine.SetCenter(rigid.GetCenter())
            else:
                affine = sitk.AffineTransform(3)
                affine.SetCenter(init.GetCenter())
                affine.SetTranslation(init.GetTranslation())
            transform, metric = self._register(fixed, fmask, small, affine)
        except RuntimeError as exc:  # ITK reports e.g. "too many samples map outside moving image"
            msg = str(exc).strip().splitlines()[-1][:160]
            raise DataError(f"{volume.source or volume.subject_id}: registration to MNI failed ({msg})") from None
        shape, box_affine = box_grid(p.voxel_mm)
        reference = to_sitk(np.zeros(shape, dtype=np.float32), box_affine)
        out = from_sitk(sitk.Resample(moving, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        # QC: correlation with the template inside its brain mask, on the output grid
        tpl = sitk.Resample(_fixed(p.voxel_mm, 0.0)[0], reference, sitk.Transform(), sitk.sitkLinear, 0.0,
                            sitk.sitkFloat32)
        tmask = sitk.Resample(_fixed(p.voxel_mm, 0.0)[1], reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        t, m = from_sitk(tpl), from_sitk(tmask) > 0
        a, b = out[m].astype(np.float64), t[m].astype(np.float64)
        ncc = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        matrix = np.asarray(sitk.AffineTransform(transform.GetNthTransform(0) if isinstance(
            transform, sitk.CompositeTransform) else transform).GetMatrix()).reshape(3, 3)
        result = volume.replace(out.astype(np.float32), box_affine)
        return add_qc(result, reg_metric=float(metric), reg_ncc=ncc, reg_det=float(np.linalg.det(matrix)))


@dataclass(frozen=True)
class SkullStripParams:
    threshold: float = 0.5   # on the template mask resampled (linearly) onto the volume's grid
    dilate_mm: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1 or self.dilate_mm < 0:
            raise ValueError("threshold must be within (0, 1) and dilate_mm ≥ 0")


class SkullStrip(Preprocessor):
    """Brain extraction with the MNI152 brain mask: for volumes already in MNI space (after
    ``register-mni``), voxels outside the template's brain mask are set to 0."""

    version = "1"
    Params = SkullStripParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        import SimpleITK as sitk
        from scipy import ndimage

        tpl = load_template(1.0)
        src = to_sitk(tpl.mask.astype(np.float32), tpl.affine)
        reference = to_sitk(np.zeros(volume.array.shape, dtype=np.float32), volume.affine)
        mask = from_sitk(sitk.Resample(src, reference, sitk.Transform(), sitk.sitkLinear, 0.0,
                                       sitk.sitkFloat32)) > self.params.threshold
        vox = voxel_sizes(volume.affine)
        if self.params.dilate_mm > 0:
            mask = ndimage.binary_dilation(mask, iterations=max(1, int(round(self.params.dilate_mm / vox.min()))))
        if mask.sum() == 0:
            raise DataError(f"{volume.source or volume.subject_id}: the volume does not overlap the MNI brain "
                            "mask; run 'register-mni' before 'skull-strip'")
        out = np.where(mask, volume.array, 0.0).astype(np.float32)
        ml = float(mask.sum() * np.prod(vox) / 1000.0)
        qc = {"brain_mask_ml": ml}
        det = volume.metadata.get("_qc", {}).get("reg_det")
        if det is not None:
            qc["native_brain_ml"] = ml * float(det)
        return add_qc(volume.replace(out), **qc)
