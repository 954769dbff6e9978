"""3D multi-scale SSIM (Wang et al., 2003), numerically the same as ``monai.metrics.MultiScaleSSIMMetric``,
and its mean over pairs *within* one set: the diversity measure of the reference study (lower = more
diverse; their real set 0.74, their DDPM 0.58).

Per pair MONAI convolves five 3D images (x, y, x², y², xy) at every scale with a dense k³ kernel. Only
the cross term ``G∗(xy)`` depends on the pair, so :func:`ms_ssim_within` computes each volume's pyramid,
local means ``μ`` and variances ``σ²`` once, and per pair only filters the product — with the Gaussian
applied separably (three 1D passes of k taps instead of one of k³; the 3D Gaussian kernel is the outer
product of 1D ones, so this is the same filter) and many partners of one volume batched together.

MS-SSIM follows MONAI exactly: valid (unpadded) filtering; contrast-sensitivity means at every scale but
the last, SSIM at the last; each clipped at 0 (ReLU) and raised to its weight; 2× average pooling
between scales. ``scales`` < 5 uses the first `scales` standard weights renormalised to sum to 1 (MONAI
applies whatever weights it is given verbatim; we pass it the same renormalised weights in tests).
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from benchgen.functional.sources import Data, RowSource, is_streamed, source

DEFAULT_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def msssim_weights(scales: int = 5, weights: Sequence[float] | None = None) -> tuple[float, ...]:
    """Explicit `weights`, or the first `scales` of Wang et al.'s five renormalised to sum to 1."""
    if weights:
        return tuple(float(w) for w in weights)
    if not 1 <= scales <= len(DEFAULT_WEIGHTS):
        raise ValueError(f"scales must be 1..{len(DEFAULT_WEIGHTS)}, got {scales}")
    w = DEFAULT_WEIGHTS[:scales]
    return tuple(x / sum(w) for x in w) if scales < len(DEFAULT_WEIGHTS) else w


def _divisor(scales: int) -> int:
    # Our own need is that the coarsest scale (side // 2**(scales-1)) holds one kernel; MONAI checks
    # side // (scales-1)**2 > kernel-1 instead. Requiring both keeps us valid wherever MONAI is.
    return max(2 ** (scales - 1), (scales - 1) ** 2, 1)


def max_kernel(shape: Sequence[int], scales: int) -> int:
    """The largest kernel size that fits a volume of `shape` with `scales` scales."""
    return min(int(s) // _divisor(scales) for s in shape)


def check_kernel_fits(shape: Sequence[int], kernel_size: int, scales: int) -> None:
    """Raise ValueError, naming the sizes that do fit, when the kernel is too large for the volume."""
    if kernel_size < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
    if kernel_size <= max_kernel(shape, scales):
        return
    fits = [f"kernel_size <= {max_kernel(shape, s)} with scales={s}" for s in range(5, 0, -1)
            if max_kernel(shape, s) >= 2]
    side = kernel_size * _divisor(scales)
    raise ValueError(
        f"kernel_size {kernel_size} with {scales} scales needs every side >= {side} voxels, volumes are "
        f"{'×'.join(str(int(s)) for s in shape)}; what fits: {'; '.join(fits) or 'nothing (volume too small)'}")


def gaussian_1d(kernel_size: int, sigma: float) -> torch.Tensor:
    """MONAI's 1D Gaussian (same sampling points, float32, normalised)."""
    dist = torch.arange(start=(1 - kernel_size) / 2, end=(1 + kernel_size) / 2, step=1)
    g = torch.exp(-torch.pow(dist / sigma, 2) / 2)
    return g / g.sum()


def _filter(x: torch.Tensor, taps: list[float]) -> torch.Tensor:
    """Valid separable filtering of ``B×D×H×W`` along the three spatial axes (shift-and-add per tap)."""
    k = len(taps)
    for axis in (1, 2, 3):
        n = x.shape[axis] - k + 1
        out = x.narrow(axis, 0, n) * taps[0]
        for t in range(1, k):
            out.add_(x.narrow(axis, t, n), alpha=taps[t])
        x = out
    return x


class _Stats:
    """Per-volume pyramid with local means and variances at every scale."""

    def __init__(self, vols: torch.Tensor, taps: list[float], scales: int):
        self.x: list[torch.Tensor] = []
        self.mu: list[torch.Tensor] = []
        self.var: list[torch.Tensor] = []
        x = vols
        for s in range(scales):
            mu = _filter(x, taps)
            self.x.append(x)
            self.mu.append(mu)
            self.var.append(_filter(x * x, taps) - mu * mu)
            if s < scales - 1:
                x = F.avg_pool3d(x[:, None], kernel_size=2)[:, 0]


def _pair_terms(si: _Stats, i: int, sj: _Stats, js: list[int], taps: list[float], c1: float, c2: float
                ) -> torch.Tensor:
    """``len(js)×scales`` float64: mean CS at every scale but the last, mean SSIM at the last."""
    scales = len(si.x)
    out = torch.empty(len(js), scales, dtype=torch.float64)
    for s in range(scales):
        xi, mi, vi = si.x[s][i], si.mu[s][i], si.var[s][i]
        xj, mj, vj = sj.x[s][js], sj.mu[s][js], sj.var[s][js]
        cov = _filter(xj * xi, taps).sub_(mj * mi)
        cs = cov.mul_(2).add_(c2).div_((vj + vi).add_(c2))
        if s == scales - 1:
            lum = (mj * mi).mul_(2).add_(c1).div_((mj * mj).add_(mi * mi).add_(c1))
            cs = cs.mul_(lum)
        out[:, s] = cs.reshape(len(js), -1).mean(1).to(torch.float64)
    return out


def _combine(terms: torch.Tensor, weights: Sequence[float]) -> np.ndarray:
    w = torch.tensor(weights, dtype=torch.float64)
    return torch.prod(torch.relu(terms) ** w, dim=1).numpy()


def _prep(volumes: torch.Tensor | np.ndarray) -> torch.Tensor:
    v = torch.as_tensor(volumes)
    if v.ndim == 5:
        if v.shape[1] != 1:
            raise ValueError(f"expected one channel, got shape {tuple(v.shape)}")
        v = v[:, 0]
    if v.ndim != 4:
        raise ValueError(f"expected N×D×H×W or N×1×D×H×W volumes, got shape {tuple(v.shape)}")
    return v.to(torch.float32).contiguous()


def ms_ssim_pair(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray, data_range: float = 1.0,
                 kernel_size: int = 4, kernel_sigma: float = 1.5, scales: int = 5,
                 weights: Sequence[float] | None = None, k1: float = 0.01, k2: float = 0.03) -> float:
    """MS-SSIM of two 3D volumes (``D×H×W``)."""
    v = _prep(torch.stack([torch.as_tensor(x).reshape(torch.as_tensor(x).shape[-3:]),
                           torch.as_tensor(y).reshape(torch.as_tensor(y).shape[-3:])]))
    return float(ms_ssim_within(v, data_range, kernel_size, kernel_sigma, scales, weights, k1, k2,
                                pairs=np.array([[0, 1]]))[0])


def all_pairs(n: int) -> np.ndarray:
    """Every unordered pair ``i < j`` of n items, ``P×2``."""
    i, j = np.triu_indices(n, k=1)
    return np.stack([i, j], axis=1)


def sample_pairs(n: int, max_pairs: int | None, seed: int) -> np.ndarray:
    """All pairs, or a seeded random subset of `max_pairs` of them (sorted, without repeats)."""
    total = n * (n - 1) // 2
    if not max_pairs or max_pairs >= total:
        return all_pairs(n)
    rng = np.random.default_rng(seed)
    flat = np.sort(rng.choice(total, size=max_pairs, replace=False))
    return all_pairs(n)[flat]


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily run torch's intra-op ops on `n` threads (None: leave as is)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def ms_ssim_within(volumes: Data, data_range: float = 1.0, kernel_size: int = 4,
                   kernel_sigma: float = 1.5, scales: int = 5, weights: Sequence[float] | None = None,
                   k1: float = 0.01, k2: float = 0.03, pairs: np.ndarray | None = None,
                   batch: int | None = None, max_memory_gb: float = 2.0, threads: int | None = 1,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """MS-SSIM of each given pair (default: all unordered pairs) of one set; returns a float64 array.

    Volumes are split into blocks whose statistics fit `max_memory_gb`; with one block (the usual
    case: 86 volumes of 84×128×84 need ~1.1 GB) each volume's statistics are computed exactly once.
    `batch` partners of one volume are filtered together (default: ~8 M voxels per batch).
    `threads`: torch threads during the call. The work is memory-bound elementwise passes, where OpenMP
    threads mostly add synchronisation: on a busy 2-core CPU one thread was 15× faster than two
    (docs/performance.md). Pass None to keep torch's setting.
    """
    with torch_threads(threads):
        return _ms_ssim_within(volumes, data_range, kernel_size, kernel_sigma, scales, weights, k1, k2, pairs,
                               batch, max_memory_gb, progress)


def _ms_ssim_within(volumes: Data, data_range: float, kernel_size: int,
                    kernel_sigma: float, scales: int, weights: Sequence[float] | None, k1: float, k2: float,
                    pairs: np.ndarray | None, batch: int | None, max_memory_gb: float,
                    progress: Callable[[int, int], None] | None) -> np.ndarray:
    if is_streamed(volumes):  # a set on disk: only the volumes of each block's pairs are read
        src = source(volumes)
        n = len(src)

        def take(rows: np.ndarray) -> torch.Tensor:
            return _prep(src.rows(rows))
    else:
        vols = _prep(volumes.rows(np.arange(len(volumes))) if isinstance(volumes, RowSource) else volumes)
        n = vols.shape[0]

        def take(rows: np.ndarray) -> torch.Tensor:
            return vols[torch.as_tensor(rows)]
    shape = take(np.arange(min(n, 1))).shape[1:]
    w = msssim_weights(scales, weights)
    scales = len(w)
    check_kernel_fits(shape, kernel_size, scales)
    if pairs is None:
        pairs = all_pairs(n)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    taps = gaussian_1d(kernel_size, kernel_sigma).tolist()
    if batch is None:
        batch = max(1, (8 << 20) // math.prod(shape))
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2

    per_volume = 3 * 4 * math.prod(shape) * 8 / 7  # x, μ, σ² over the pyramid, in bytes
    block = max(1, min(n, int(max_memory_gb * 2**30 / 2 / per_volume)))
    blocks = np.arange(n) // block
    results = np.empty(len(pairs), dtype=np.float64)
    done = 0
    # Statistics only of the volumes some pair uses (a volume's statistics do not depend on its block-mates,
    # so this is exact, and a sample of pairs from a large set reads few volumes per block).
    for bi in np.unique(blocks[pairs[:, 0]]) if len(pairs) else []:
        in_bi = pairs[blocks[pairs[:, 0]] == bi]
        rows_i = np.unique(np.concatenate([in_bi[:, 0], in_bi[blocks[in_bi[:, 1]] == bi, 1]]))
        si = _Stats(take(rows_i), taps, scales)
        local_i = {int(g): k for k, g in enumerate(rows_i)}
        for bj in np.unique(blocks[in_bi[:, 1]]):
            sel = np.flatnonzero((blocks[pairs[:, 0]] == bi) & (blocks[pairs[:, 1]] == bj))
            if bj == bi:
                sj, local_j = si, local_i
            else:
                rows_j = np.unique(pairs[sel, 1])
                sj, local_j = _Stats(take(rows_j), taps, scales), {int(g): k for k, g in enumerate(rows_j)}
            for i in np.unique(pairs[sel, 0]):
                mine = sel[pairs[sel, 0] == i]
                for start in range(0, len(mine), batch):
                    part = mine[start:start + batch]
                    js = [local_j[int(j)] for j in pairs[part, 1]]
                    terms = _pair_terms(si, local_i[int(i)], sj, js, taps, c1, c2)
                    results[part] = _combine(terms, w)
                    done += len(part)
                    if progress is not None:
                        progress(done, len(pairs))
    return results
