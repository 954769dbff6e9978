"""Real-set feature cache: scoring a new generator must not re-extract the reference set's features.

Key = the real set's fingerprint (``MetricContext.real_fingerprint``) + the extractor's fingerprint (its
name, version, params and, for pretrained extractors, the weights' sha256). One ``.npy`` per key under
``MetricContext.cache_dir``, written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from benchgen.atomic import atomic_path
from benchgen.hashing import fingerprint
from benchgen.interfaces import FeatureExtractor


def cache_key(extractor: FeatureExtractor, real_fingerprint: str) -> str:
    return fingerprint({"real": real_fingerprint, "extractor": extractor.fingerprint(),
                        "weights_sha256": extractor.weights_sha256()})


def cached(extractor: FeatureExtractor, cache_dir: Path | None, real_fingerprint: str | None,
           n_rows: int, compute: Callable[[], np.ndarray]) -> tuple[np.ndarray, bool]:
    """(features, hit): load from the cache when possible, else compute and store."""
    if cache_dir is None or not real_fingerprint:
        return compute(), False
    path = Path(cache_dir) / f"{extractor.name}-{cache_key(extractor, real_fingerprint)}.npy"
    if path.is_file():
        try:
            feats = np.load(path, allow_pickle=False)
            if feats.ndim == 2 and feats.shape[0] == n_rows:
                return feats, True
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed
    feats = compute()
    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, feats)
    return feats, False
