"""A test-only feature plugin ``given-x2``: the voxels themselves times `scale` (default 2), so a metric can
be fed exact feature vectors through the registry, the plugins and ``benchgen.evaluate``: volumes (NIfTI files
of a few voxels) store features / 2, which keeps voxels in [0, 1] for features in [0, 2]."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata as md
from importlib.metadata import EntryPoint

import numpy as np
import torch

from benchgen.interfaces import KINDS, FeatureExtractor

MODULE = "benchgen_test_given_features"


class GivenFeatures(FeatureExtractor):
    """Flattened voxels × `scale` as features (float64)."""

    @dataclass(frozen=True)
    class Params:
        scale: float = 2.0

    def extract(self, volumes: torch.Tensor, device: str = "cpu") -> np.ndarray:
        return volumes.reshape(len(volumes), -1).to(torch.float64).numpy() * self.params.scale


def entry_points_with_given_features() -> list[EntryPoint]:
    """The installed entry points plus ``given-x2`` (features)."""
    sys.modules.setdefault(MODULE, sys.modules[__name__])
    installed = [ep for kind in KINDS for ep in md.entry_points(group=f"benchgen.{kind}")]
    return [*installed, EntryPoint("given-x2", f"{MODULE}:GivenFeatures", "benchgen.features")]
