"""Geometric steps: reorient to RAS, resample to isotropic voxels, crop/pad to a box, resize."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from benchgen.errors import DataError
from benchgen.interfaces import PrepContext, Preprocessor
from benchgen.volumes import Volume
from benchgen_data.geometry import center_start, crop_pad_array, resize_array, voxel_sizes
from benchgen_data.templates import MNI_BOX_MM, MNI_BOX_ORIGIN_MM


def _check_shape(shape: tuple[int, int, int] | None) -> None:
    if shape is not None and any(s < 2 for s in shape):
        raise ValueError(f"shape must have 3 sizes ≥ 2, got {list(shape)}")



def _three(sizes: Any) -> tuple[int, int, int]:
    """Three integer sizes (D, H, W) from any iterable."""
    d, h, w = (int(x) for x in sizes)
    return d, h, w

class Reorient(Preprocessor):
    """Reorder/flip voxel axes to the closest canonical orientation (RAS), like nibabel's
    ``as_closest_canonical``: no interpolation, the world position of every voxel is unchanged."""

    version = "1"

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        import nibabel.orientations as nio

        ornt = nio.io_orientation(volume.affine)
        if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
            return volume
        array = nio.apply_orientation(volume.array, ornt)
        affine = volume.affine @ nio.inv_ornt_aff(ornt, volume.array.shape)
        return volume.replace(np.ascontiguousarray(array), affine)


@dataclass(frozen=True)
class ResampleParams:
    voxel_mm: float = 1.0
    order: Literal[0, 1, 3] = 1  # spline order (0 nearest, 1 linear, 3 cubic)
    tolerance_mm: float = 0.01  # already within this of voxel_mm on every axis: left as is

    def __post_init__(self) -> None:
        if not 0.1 <= self.voxel_mm <= 10:
            raise ValueError(f"voxel_mm must be within [0.1, 10], got {self.voxel_mm}")


class Resample(Preprocessor):
    """Resample to isotropic ``voxel_mm`` voxels over the same field of view (nibabel.processing,
    scipy spline interpolation), keeping the orientation; oblique inputs become axis-aligned RAS."""

    version = "1"
    Params = ResampleParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        import nibabel as nib
        from nibabel.processing import resample_to_output

        p = self.params
        sizes = voxel_sizes(volume.affine)
        aligned = np.allclose(np.abs(volume.affine[:3, :3]) > 1e-6, np.eye(3, dtype=bool))
        if aligned and np.all(np.abs(sizes - p.voxel_mm) <= p.tolerance_mm):
            return volume
        img = nib.Nifti1Image(volume.array, volume.affine)
        out = resample_to_output(img, voxel_sizes=(p.voxel_mm,) * 3, order=p.order, mode="constant", cval=0.0)
        return volume.replace(np.asarray(out.dataobj, dtype=np.float32), np.asarray(out.affine))


@dataclass(frozen=True)
class CropPadParams:
    # "mni-box": the world box of the paper/AssemblyNet (181×217×181 mm from (-90,-126,-72)), at the
    # volume's own voxel size — for volumes in MNI space (phantom, after register-mni).
    # "center": a centred voxel box of `shape` (the suite's shape when `shape` is not given).
    mode: Literal["mni-box", "center"] = "mni-box"
    shape: tuple[int, int, int] | None = None
    box_mm: tuple[float, float, float] = MNI_BOX_MM
    box_origin_mm: tuple[float, float, float] = MNI_BOX_ORIGIN_MM  # centre of the box's first voxel

    def __post_init__(self) -> None:
        _check_shape(self.shape)
        if self.shape is not None and self.mode != "center":
            raise ValueError("shape is only used with mode = \"center\"")
        if any(b <= 0 for b in self.box_mm):
            raise ValueError(f"box_mm must be positive, got {list(self.box_mm)}")


class CropPad(Preprocessor):
    """Crop and zero-pad to a fixed box; the affine follows, so world positions are kept."""

    version = "1"
    Params = CropPadParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        p = self.params
        if p.mode == "center":
            shape = _three(p.shape or ctx.target_shape)
            start = center_start(volume.array.shape, shape)
        else:
            lin = volume.affine[:3, :3]
            if not (np.allclose(lin, np.diag(np.diag(lin)), atol=1e-4) and np.all(np.diag(lin) > 0)):
                raise DataError(f"{volume.source or volume.subject_id}: crop-pad mode 'mni-box' needs an "
                                "axis-aligned RAS volume in MNI space; put 'reorient' and 'register-mni' before it")
            vox = np.diag(lin)
            start = _three(round(s) for s in (np.asarray(p.box_origin_mm) - volume.affine[:3, 3]) / vox)
            shape = _three(max(2, int(round(b / v))) for b, v in zip(p.box_mm, vox))
        array, affine = crop_pad_array(volume.array, volume.affine, start, shape)
        return volume.replace(array, affine)


@dataclass(frozen=True)
class ResizeParams:
    shape: tuple[int, int, int] | None = None  # None: the suite's shape
    order: Literal[0, 1, 3] = 1
    anti_aliasing: bool = True  # Gaussian low-pass before shrinking (scikit-image)

    def __post_init__(self) -> None:
        _check_shape(self.shape)


class Resize(Preprocessor):
    """Resize to a voxel shape over the same field of view (scikit-image), as the paper resized
    181×217×181 to 84×128×84; the affine's voxel sizes change accordingly."""

    version = "1"
    Params = ResizeParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        shape = _three(self.params.shape or ctx.target_shape)
        array, affine = resize_array(volume.array, volume.affine, shape, order=self.params.order,
                                     anti_aliasing=self.params.anti_aliasing)
        return volume.replace(array, affine)
