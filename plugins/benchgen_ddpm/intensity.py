"""How volumes in [0, 1] become the network's [-1, 1], and samples come back.

``background_gap = 0`` is the usual affine map ``x -> 2x - 1`` (the paper, MONAI's tutorials).

``background_gap = g > 0`` treats the exact-zero background of skull-stripped scans as a class of its own
rather than the darkest tissue: background is encoded at -1 and tissue (``x > 0``) in ``[-1 + g, 1]``, and
decoding sends everything below ``-1 + g`` to 0. A network that is not yet exact (the quick CPU profile)
otherwise leaves a faint haze round the brain, because the clamp at -1 only removes errors of one sign; with
the gap, background errors smaller than ``g`` in network units (``g / 2`` on the [0, 1] scale) decode to 0.
Tissue contrast is compressed by ``(2 - g) / 2``, which the decoder undoes exactly.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import torch


def encode(x: torch.Tensor, gap: float) -> torch.Tensor:
    """[0, 1] volumes -> network space [-1, 1]."""
    if gap == 0:
        return x * 2.0 - 1.0
    return torch.where(x > 0, (-1.0 + gap) + (2.0 - gap) * x, torch.full_like(x, -1.0))


def decode(y: torch.Tensor, gap: float) -> torch.Tensor:
    """Network space -> [0, 1]; the inverse of :func:`encode` on its range, clamped outside it."""
    return ((y - (-1.0 + gap)) / (2.0 - gap)).clamp(0.0, 1.0)


class EncodedCohort:
    """A cohort on disk in network space, read and encoded a batch at a time as the training loop indexes
    it (``x[idx]``, ``x[a:b]``, ``len(x)``, ``x.shape``), so a fit never holds the whole cohort."""

    def __init__(self, cohort: Any, gap: float):
        self.cohort, self.gap = cohort, gap
        self.shape = (len(cohort), 1, *cohort.shape)

    def __len__(self) -> int:
        return len(self.cohort)

    def __getitem__(self, idx: Any) -> torch.Tensor:
        rows = range(len(self))[idx] if isinstance(idx, slice) else idx
        return encode(self.cohort.rows(np.asarray(rows, dtype=np.int64)), self.gap)


Volumes = Union[torch.Tensor, EncodedCohort]  # what the training loop reads: in memory or from disk


def encoded(cohort: Any, gap: float) -> Volumes:
    """`cohort` in network space: encoded whole when it is in memory, batch by batch when it is on disk."""
    return EncodedCohort(cohort, gap) if getattr(cohort, "streamed", False) else encode(cohort.data, gap)
