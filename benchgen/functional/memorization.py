"""Copy detection: is a synthetic volume closer to a training scan than unseen real scans ever are?

For each synthetic sample, its nearest-neighbour (Euclidean) distance to the training set is compared
with a threshold taken from held-out real scans: the `quantile` of *their* nearest-training distances
(0 = the smallest, i.e. "closer than any held-out real scan"). The share of synthetic samples below the
threshold is reported (lower is better); a generator that copies training scans scores near 1, one
that draws fresh samples from the data distribution near 0.
"""

from __future__ import annotations

import numpy as np
import torch


def nearest_neighbours(x: torch.Tensor | np.ndarray, train: torch.Tensor | np.ndarray,
                       chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """Distance and index of each row's nearest training row (flattened, float64, streamed in chunks)."""
    xf = torch.as_tensor(x).reshape(len(x), -1)
    tf = torch.as_tensor(train).reshape(len(train), -1)
    if xf.shape[1] != tf.shape[1]:
        raise ValueError(f"sizes differ: {tuple(xf.shape[1:])} vs {tuple(tf.shape[1:])}")
    sx = torch.zeros(len(xf), dtype=torch.float64)
    st = torch.zeros(len(tf), dtype=torch.float64)
    dot = torch.zeros(len(xf), len(tf), dtype=torch.float64)
    for s in range(0, xf.shape[1], chunk):
        a = xf[:, s:s + chunk].to(torch.float64)
        b = tf[:, s:s + chunk].to(torch.float64)
        sx += (a * a).sum(1)
        st += (b * b).sum(1)
        dot += a @ b.T
    d = torch.sqrt(torch.clamp(sx[:, None] + st[None, :] - 2.0 * dot, min=0.0)).numpy()
    idx = d.argmin(axis=1)
    return d[np.arange(len(d)), idx], idx


def memorization_threshold(real_to_train: np.ndarray, quantile: float = 0.0) -> float:
    """Distance below which a synthetic sample is closer to training data than held-out real scans are."""
    return float(np.quantile(np.asarray(real_to_train, np.float64), quantile))


def memorization_share(synth_to_train: np.ndarray, real_to_train: np.ndarray,
                       quantile: float = 0.0) -> tuple[float, np.ndarray, float]:
    """(share flagged, boolean flags per synthetic sample, threshold)."""
    thr = memorization_threshold(real_to_train, quantile)
    flags = np.asarray(synth_to_train, np.float64) < thr
    return float(flags.mean()), flags, thr
