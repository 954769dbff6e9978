"""Tiny brain-like cohorts for metric tests: ellipsoids with smooth subject-specific texture in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from benchgen.volumes import Cohort


def make_brains(n: int, shape: tuple[int, int, int] = (16, 24, 16), seed: int = 0) -> np.ndarray:
    """``n×D×H×W`` float32 in [0, 1]: background 0, a jittered ellipsoid brain with smooth texture."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    out = np.zeros((n, *shape), np.float32)
    for k in range(n):
        radii = 0.8 + 0.1 * rng.standard_normal(3)
        centre = 0.05 * rng.standard_normal(3)
        r2 = sum(((grid[a] - centre[a]) / radii[a]) ** 2 for a in range(3))
        texture = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
        texture = texture / (texture.std() + 1e-8)
        vol = 0.6 + 0.12 * texture - 0.25 * np.exp(-r2 / 0.05)  # darker "ventricles" in the centre
        out[k] = np.where(r2 < 1.0, np.clip(vol, 0.05, 1.0), 0.0)
    return out


def cohort(arr: np.ndarray, prefix: str = "s") -> Cohort:
    return Cohort(torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[:, None], np.eye(4),
                  [f"{prefix}{i:03d}" for i in range(len(arr))])


@pytest.fixture
def brains():
    return make_brains
