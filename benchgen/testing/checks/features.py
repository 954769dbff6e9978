"""The contract checks of feature extractors."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from benchgen.testing.checks import every_kind  # noqa: F401  (import and build run first)
from benchgen.testing.checks.shared import N_FEATURE_VOLUMES, difference, shape_of
from benchgen.testing.core import Checker, contract_check
from benchgen.testing.data import brain_like


def _feature_volumes(h: Checker) -> torch.Tensor:
    return h.memo("feature-volumes", lambda: brain_like(N_FEATURE_VOLUMES, 11, h.shape))


def _features(h: Checker) -> Any:
    return h.memo("features", lambda: h.call(f"extract({N_FEATURE_VOLUMES} volumes)", h.plugin.extract,
                                             _feature_volumes(h), device="cpu"))


@contract_check("features", "extract")
def feature_extract(h: Checker) -> str:
    """`extract(volumes, device="cpu")` on 5 tiny brain-like volumes returns a numpy array (pretrained weights
    that are not on the machine skip the checks: `MissingWeightsError`)."""
    x = _features(h)
    h.require(isinstance(x, np.ndarray), f"extract() returned {type(x).__name__}, not a numpy array")
    return f"{shape_of(x)} {x.dtype}"


@contract_check("features", "output_shape", requires=("extract",))
def feature_shape(h: Checker) -> None:
    """The features are `N×F`: one row per volume, F ≥ 1."""
    x = _features(h)
    h.require(x.ndim == 2 and x.shape[0] == N_FEATURE_VOLUMES and x.shape[1] >= 1,
              f"features have shape {x.shape}, expected ({N_FEATURE_VOLUMES}, F ≥ 1)")


@contract_check("features", "output_dtype", requires=("extract",))
def feature_dtype(h: Checker) -> None:
    """The features are float64."""
    h.require(_features(h).dtype == np.float64, f"features are {_features(h).dtype}, expected float64")


@contract_check("features", "output_finite", requires=("extract",))
def feature_finite(h: Checker) -> None:
    """The features have no NaN or ±Inf."""
    x = np.asarray(_features(h), dtype=np.float64)
    h.require(np.isfinite(x).all(), f"{int((~np.isfinite(x)).sum())} non-finite feature value(s)")


@contract_check("features", "not_constant", requires=("output_shape",))
def feature_not_constant(h: Checker) -> None:
    """Not every volume gets the same features (some feature varies across volumes)."""
    h.require(np.ptp(_features(h), axis=0).max() > 0, "every volume got the same features")


@contract_check("features", "deterministic", requires=("extract",))
def feature_deterministic(h: Checker) -> None:
    """Extracting again from the same volumes gives identical features."""
    again = h.call("extract() again", h.plugin.extract, _feature_volumes(h), device="cpu")
    h.require(np.array_equal(np.asarray(again), _features(h)),
              lambda: f"extract() twice gave different features ({difference(again, _features(h))})")


@contract_check("features", "no_batch_effects", requires=("output_shape",))
def feature_no_batch_effects(h: Checker) -> None:
    """One volume at a time gives the same row as in the batch (rtol 1e-5, atol 1e-8)."""
    one = h.call("extract(one volume)", h.plugin.extract, _feature_volumes(h)[2:3], device="cpu")
    row = _features(h)[2:3]
    h.require(np.shape(one) == row.shape and np.allclose(one, row, rtol=1e-5, atol=1e-8),
              lambda: f"volume 3 alone gets other features than in the batch ({difference(one, row)})")


@contract_check("features", "weights_sha256")
def feature_weights_sha256(h: Checker) -> str:
    """`weights_sha256()` is None (no pretrained weights) or a 64-character lowercase hex digest."""
    sha = h.call("weights_sha256()", h.plugin.weights_sha256)
    h.require(sha is None or (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)),
              f"weights_sha256() returned {sha!r}")
    return "no weights" if sha is None else sha[:12]
