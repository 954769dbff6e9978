"""Copy detection: is a synthetic volume closer to a training scan than unseen real scans ever are?

For each synthetic sample, its nearest-training-neighbour distance is compared with a threshold taken
from held-out real scans: the `quantile` of *their* nearest-training distances (0 = the smallest, i.e.
"closer than any held-out real scan"). The share of synthetic samples below the threshold is reported
(lower is better); a generator that copies training scans scores near 1, one that draws fresh samples
from the data distribution near ``1/(n_real + 1)``.

Two distances:

* :func:`ncc_shift_search` (the default detector): ``1 - max NCC``, the largest normalised cross-
  correlation over integer translations of up to ``max_shift`` voxels per axis. NCC is zero-mean and unit-
  norm **inside the overlap** of the two volumes at that translation, restricted to a brain mask, so a
  copy translated by a voxel or two, rescaled or offset in intensity (NCC is invariant to ``a·x + b``) is
  still a near-perfect match; Euclidean distance is not (a 1-voxel translation moves a scan further from
  its source than a different subject is).
* :func:`nearest_neighbours`: Euclidean distance on voxels or features (``method = "l2"``).

:func:`authenticity` is AuthPct (Alaa et al., 2022, "How faithful is your synthetic data?", ICML; as
dgm-eval's ``compute_authpct``): a synthetic sample is *inauthentic* when its nearest training point is
at least as close to it as that training point's own nearest training neighbour.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from benchgen.functional.msssim import torch_threads
from benchgen.functional.sources import Data, RowSource, column_chunk, iter_batches, source


def nearest_neighbours(x: Data, train: Data,
                       chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """Distance and index of each row's nearest training row (flattened, float64, streamed in chunks)."""
    d = pairwise_distances(x, train, chunk)
    idx = d.argmin(axis=1)
    return d[np.arange(len(d)), idx], idx


def pairwise_distances(x: Data, train: Data, chunk: int = 1 << 18) -> np.ndarray:
    """Euclidean distances between the flattened rows of `x` and `train` (float64, streamed in chunks; a
    streamed set is read column chunk by column chunk)."""
    xs, ts = source(x), source(train)
    if xs.row_size != ts.row_size:
        raise ValueError(f"sizes differ: {xs.row_size} vs {ts.row_size}")
    chunk = column_chunk(chunk, len(xs) + len(ts), x, train)
    sx = torch.zeros(len(xs), dtype=torch.float64)
    st = torch.zeros(len(ts), dtype=torch.float64)
    dot = torch.zeros(len(xs), len(ts), dtype=torch.float64)
    for s in range(0, xs.row_size, chunk):
        a = xs.columns(s, s + chunk).to(torch.float64)
        b = ts.columns(s, s + chunk).to(torch.float64)
        sx += (a * a).sum(1)
        st += (b * b).sum(1)
        dot += a @ b.T
    return torch.sqrt(torch.clamp(sx[:, None] + st[None, :] - 2.0 * dot, min=0.0)).numpy()


def memorization_threshold(real_to_train: np.ndarray, quantile: float = 0.0) -> float:
    """Distance below which a synthetic sample is closer to training data than held-out real scans are."""
    return float(np.quantile(np.asarray(real_to_train, np.float64), quantile))


def memorization_share(synth_to_train: np.ndarray, real_to_train: np.ndarray,
                       quantile: float = 0.0) -> tuple[float, np.ndarray, float]:
    """(share flagged, boolean flags per synthetic sample, threshold)."""
    thr = memorization_threshold(real_to_train, quantile)
    flags = np.asarray(synth_to_train, np.float64) < thr
    return float(flags.mean()), flags, thr


# ------------------------------------------------------------------------------------ NCC over shifts
def brain_mask(train: Data, batch: int = 16) -> torch.Tensor:
    """Voxels that are non-zero in at least half of the training volumes (``D×H×W`` bool); all voxels when
    the data have no zero background (not skull-stripped). Counted `batch` volumes at a time."""
    count: torch.Tensor | None = None
    n = 0
    for _, t in iter_batches(train, batch):
        t = t.reshape(len(t), *t.shape[-3:])
        part = (t != 0).sum(0)
        count = part if count is None else count + part
        n += len(t)
    assert count is not None, "brain_mask of an empty set"
    mask = 2 * count >= n  # exactly `mean >= 0.5` of the 0/1 indicators
    return mask if int(mask.sum()) >= 8 else torch.ones_like(mask)


def shifts(max_shift: int) -> list[tuple[int, int, int]]:
    """Every integer translation with each component in ``[-max_shift, max_shift]``; ``(0, 0, 0)`` first."""
    r = range(-max_shift, max_shift + 1)
    return sorted(itertools.product(r, r, r), key=lambda s: (sum(map(abs, s)), s))


def _boxes(shape: tuple[int, ...], s: tuple[int, int, int]) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """(region of the query, region of the training volume) overlapping when the query is read at ``v + s``."""
    q = tuple(slice(max(0, a), n + min(0, a)) for a, n in zip(s, shape))
    t = tuple(slice(max(0, -a), n + min(0, -a)) for a, n in zip(s, shape))
    return q, t


def _masked_sums(a: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Σ w·a, Σ w·a²)`` of each row of the ``B×V`` `a`; the squares through one V-sized temporary (a B×V
    one would cost a page-faulting allocation per call)."""
    tmp = torch.empty_like(w)
    return a @ w, torch.stack([torch.dot(torch.mul(r, w, out=tmp), r) for r in a])


def ncc_shift_search(x: Data, train: Data, max_shift: int = 2,
                     mask: torch.Tensor | np.ndarray | None = None, device: str = "cpu",
                     max_block_bytes: int = 1 << 28, threads: int | None = 1
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query volume, the largest NCC with any training volume over translations of up to
    `max_shift` voxels per axis: ``(best NCC, index of that training volume, its shift (N×3))``.

    The query is read at ``v + s`` against the training volume at ``v``; NCC is computed inside the overlap
    of the two at that shift, on the voxels of `mask` (``D×H×W``, default :func:`brain_mask` of `train`),
    each side zero-mean and unit-norm there. Float64 on CPU, float32 on CUDA (after centring every volume,
    so no cancellation). Queries and training volumes are processed in blocks of about `max_block_bytes`.
    Cost: ``2·N·T·V·(2·max_shift+1)³`` flops (N queries, T training volumes, V voxels). `threads`: torch
    threads on CPU during the call (None: leave as is); many small passes, where extra OpenMP threads
    mostly add synchronisation on a busy CPU (one thread was 27× faster than two on our 2-core machine).
    """
    with torch_threads(threads if torch.device(device).type == "cpu" else None):
        return _ncc_shift_search(x, train, max_shift, mask, device, max_block_bytes)


def _ncc_shift_search(x: Data, train: Data, max_shift: int,
                      mask: torch.Tensor | np.ndarray | None, device: str, max_block_bytes: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xq, tt = source(x), source(train)

    def volumes(src: RowSource, start: int, stop: int) -> torch.Tensor:  # rows as B×D×H×W
        v = src.rows(np.arange(start, min(stop, len(src))))
        return v.reshape(len(v), *v.shape[-3:])

    q_shape, t_shape = volumes(xq, 0, 1).shape[1:], volumes(tt, 0, 1).shape[1:]
    if q_shape != t_shape:
        raise ValueError(f"sizes differ: {tuple(q_shape)} vs {tuple(t_shape)}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    shape = tuple(int(s) for s in q_shape)
    if 2 * max_shift >= min(shape):
        raise ValueError(f"max_shift {max_shift} is too large for volumes of {'×'.join(map(str, shape))}")
    dev = torch.device(device)
    dtype = torch.float32 if dev.type == "cuda" else torch.float64
    m = (brain_mask(tt) if mask is None else torch.as_tensor(mask)).to(dev, torch.bool)
    if tuple(m.shape) != shape:
        raise ValueError(f"mask shape {tuple(m.shape)} differs from the volumes' {shape}")
    n, t = len(xq), len(tt)
    best = torch.full((n,), -math.inf, dtype=torch.float64)
    best_idx = torch.zeros(n, dtype=torch.int64)
    best_shift = torch.zeros(n, 3, dtype=torch.int64)
    vox = math.prod(shape)
    per_block = max(1, int(max_block_bytes // (vox * (8 if dtype == torch.float64 else 4))))
    all_shifts = shifts(max_shift)

    # NCC inside the overlap ∩ mask from raw sums, so each volume is read and centred once per block pair
    # (re-centring every query for every training block cost 8× the products at n = 2,000):
    #   ncc = (Σ q·t − Σq·Σt / k) / √((Σq² − (Σq)²/k)(Σt² − (Σt)²/k)), sums over the k voxels of the overlap
    # ∩ mask. Each volume is first centred on its mean inside the mask, so these differences never cancel.
    w = m.to(dtype)
    plan = [(j, s, *_boxes(shape, s)) for j, s in enumerate(all_shifts)]
    weights = [w[ts].reshape(-1) for _, _, _, ts in plan]
    sizes = [float(v.sum()) for v in weights]
    q_sum = torch.zeros(n, len(plan), dtype=dtype, device=dev)  # Σq, Σq² over each shift's overlap ∩ mask
    q_sq = torch.zeros_like(q_sum)

    buffer = torch.empty(min(per_block, n), *shape, dtype=dtype, device=dev)  # reused: no page faults per block

    def centred(src: RowSource, start: int, stop: int, into: torch.Tensor | None = None) -> torch.Tensor:
        raw = volumes(src, start, stop)
        v = raw.to(dev, dtype) if into is None else into[: len(raw)].copy_(raw)
        mean = (v.reshape(len(v), -1) @ w.reshape(-1)) / max(sizes[0], 1.0)
        return v.sub_(mean[:, None, None, None])

    for t0 in range(0, t, per_block):
        tb = centred(tt, t0, t0 + per_block).mul_(w)  # masked: Σ q·t over the overlap is then a plain product
        t_stats = [_masked_sums(tb[(slice(None), *ts)].reshape(len(tb), -1), weights[j]) for j, _, _, ts in plan]
        for q0 in range(0, n, per_block):
            qb = centred(xq, q0, q0 + per_block, buffer)
            rows = slice(q0, q0 + len(qb))
            for j, s, qs, ts in plan:
                k = sizes[j]
                if k < 2:
                    continue
                a = qb[(slice(None), *qs)].reshape(len(qb), -1)  # s = (0, 0, 0): views, no copies
                if t0 == 0:
                    q_sum[rows, j], q_sq[rows, j] = _masked_sums(a, weights[j])
                b = tb[(slice(None), *ts)].reshape(len(tb), -1)
                sq, qq = q_sum[rows, j], q_sq[rows, j]
                st, tq = t_stats[j]
                num = a @ b.T - sq[:, None] * st[None, :] / k
                norm_q = (qq - sq * sq / k).clamp_min(0).sqrt().clamp_min(1e-12)
                norm_t = (tq - st * st / k).clamp_min(0).sqrt().clamp_min(1e-12)
                val, arg = (num / (norm_q[:, None] * norm_t[None, :])).max(dim=1)
                val = val.to("cpu", torch.float64)
                arg = arg.cpu() + t0
                better = val > best[rows]
                best[rows] = torch.where(better, val, best[rows])
                best_idx[rows] = torch.where(better, arg, best_idx[rows])
                best_shift[rows] = torch.where(better[:, None], torch.tensor(s), best_shift[rows])
    return best.numpy(), best_idx.numpy(), best_shift.numpy()


# -------------------------------------------------------------------------------------------- AuthPct
def authenticity(synth_to_train: np.ndarray, train_to_train: np.ndarray) -> np.ndarray:
    """Per synthetic sample: authentic (True) unless its nearest training point is at least as close to it as
    that training point's nearest other training point (Alaa et al., 2022; dgm-eval ``compute_authpct``).

    `synth_to_train`: ``M×T`` distances; `train_to_train`: ``T×T`` distances (the diagonal is ignored).
    """
    d_st = np.asarray(synth_to_train, np.float64)
    d_tt = np.array(train_to_train, np.float64)
    if d_tt.shape[0] < 2 or d_tt.shape != (d_st.shape[1], d_st.shape[1]):
        raise ValueError(f"need M×T and T×T distances with T >= 2, got {d_st.shape} and {d_tt.shape}")
    np.fill_diagonal(d_tt, np.inf)
    train_nn = d_tt.min(axis=1)  # each training point's own nearest-neighbour distance
    nearest = d_st.argmin(axis=1)
    return train_nn[nearest] < d_st[np.arange(len(d_st)), nearest]


def authpct(synth_to_train: np.ndarray, train_to_train: np.ndarray) -> float:
    """AuthPct = 100 × the share of authentic synthetic samples (higher is better)."""
    return float(100.0 * authenticity(synth_to_train, train_to_train).mean())
