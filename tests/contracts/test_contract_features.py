"""Contract every registered feature extractor passes: N volumes -> N×F float64, finite, deterministic."""

from __future__ import annotations

import re

import numpy as np
import pytest

from benchgen.errors import MissingWeightsError
from benchgen.interfaces import FeatureExtractor


def test_extract_shape_dtype_determinism(feature_name, load_plugin, make_brains):
    cls, fx = load_plugin("features", feature_name)
    assert issubclass(cls, FeatureExtractor)
    volumes = make_brains(5, 11)
    try:
        first = fx.extract(volumes, device="cpu")
    except MissingWeightsError as exc:  # pretrained weights are a local file the user provides
        pytest.skip(f"feature extractor '{feature_name}' needs weights that are not on this machine: {exc.message}")
    assert isinstance(first, np.ndarray) and first.dtype == np.float64
    assert first.ndim == 2 and first.shape[0] == 5 and first.shape[1] >= 1
    assert np.isfinite(first).all()
    assert np.ptp(first, axis=0).max() > 0, "every volume got the same features"
    np.testing.assert_array_equal(fx.extract(volumes, device="cpu"), first)
    # one volume at a time gives the same rows (no batch effects)
    np.testing.assert_allclose(fx.extract(volumes[2:3], device="cpu"), first[2:3], rtol=1e-5, atol=1e-8)
    sha = fx.weights_sha256()
    assert sha is None or re.fullmatch(r"[0-9a-f]{64}", sha)
