"""Preprocessing steps (registered as ``benchgen.preprocessors`` entry points)."""

from benchgen_data.steps.chain import PaperChain
from benchgen_data.steps.geometry import CropPad, Reorient, Resample, Resize
from benchgen_data.steps.intensity import DenoiseNLM, N4BiasCorrection, NormalizeInMask, ScaleUnit
from benchgen_data.steps.registration import RegisterMNI, SkullStrip

__all__ = ["CropPad", "DenoiseNLM", "N4BiasCorrection", "NormalizeInMask", "PaperChain", "RegisterMNI",
           "Reorient", "Resample", "Resize", "ScaleUnit", "SkullStrip"]
