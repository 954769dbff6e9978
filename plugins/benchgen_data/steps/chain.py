"""`paper`: the reference study's preprocessing (AssemblyNet, ../docs/data.md) as one step, built
from the single steps in the paper's order as closely as open tools allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchgen.interfaces import PrepContext, Preprocessor
from benchgen.volumes import Volume
from benchgen_data.steps.geometry import (
    CropPad,
    CropPadParams,
    Reorient,
    Resample,
    ResampleParams,
    Resize,
    ResizeParams,
)
from benchgen_data.steps.intensity import DenoiseNLM, N4BiasCorrection, N4Params, NormalizeInMask
from benchgen_data.steps.registration import RegisterMNI, RegisterParams, SkullStrip


@dataclass(frozen=True)
class PaperParams:
    denoise: bool = True            # 1. non-local means
    fine_n4: bool = True            # 4. second N4 inside the brain mask (stands in for SPM's fine correction)
    voxel_mm: float = 1.0           # working resolution (the paper: 1 mm MNI, 181×217×181)
    shape: tuple[int, int, int] | None = (84, 128, 84)  # 8. final resize; none keeps the 1 mm MNI box

    def __post_init__(self) -> None:
        if self.shape is not None and any(s < 2 for s in self.shape):
            raise ValueError(f"shape must have 3 sizes ≥ 2, got {list(self.shape)}")
        if not 0.5 <= self.voxel_mm <= 4:
            raise ValueError(f"voxel_mm must be within [0.5, 4], got {self.voxel_mm}")


def _named(step: Preprocessor, name: str) -> Preprocessor:
    step.name = name
    return step


class PaperChain(Preprocessor):
    """reorient → resample (1 mm) → denoise-nlm → n4 → register-mni (affine, MI) → skull-strip
    (template mask) → n4 inside the brain (fine) → normalize (z-score in mask, background 0) →
    crop-pad to the MNI box → resize (84×128×84). Values are z-scores (not [0, 1]): suites add
    ``scale-01``."""

    version = "1"
    Params = PaperParams
    tiny_params = {"denoise": False, "fine_n4": False, "voxel_mm": 4.0, "shape": [8, 8, 8]}

    def steps(self) -> list[Preprocessor]:
        p = self.params
        chain: list[Preprocessor] = [_named(Reorient(), "reorient"),
                                     _named(Resample(ResampleParams(voxel_mm=p.voxel_mm)), "resample")]
        if p.denoise:
            chain.append(_named(DenoiseNLM(), "denoise-nlm"))
        chain.append(_named(N4BiasCorrection(), "n4"))
        chain.append(_named(RegisterMNI(RegisterParams(voxel_mm=p.voxel_mm)), "register-mni"))
        chain.append(_named(SkullStrip(), "skull-strip"))
        if p.fine_n4:
            chain.append(_named(N4BiasCorrection(N4Params(mask="nonzero", iterations=(30,))), "n4"))
        chain.append(_named(NormalizeInMask(), "normalize"))
        chain.append(_named(CropPad(CropPadParams()), "crop-pad"))
        if p.shape is not None:
            chain.append(_named(Resize(ResizeParams(shape=tuple(p.shape))), "resize"))
        return chain

    def config(self) -> dict[str, Any]:
        cfg = super().config()
        cfg["steps"] = [s.config() for s in self.steps()]
        return cfg

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        for step in self.steps():
            volume = step(volume, ctx)
        return volume
