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

import torch


def encode(x: torch.Tensor, gap: float) -> torch.Tensor:
    """[0, 1] volumes -> network space [-1, 1]."""
    if gap == 0:
        return x * 2.0 - 1.0
    return torch.where(x > 0, (-1.0 + gap) + (2.0 - gap) * x, torch.full_like(x, -1.0))


def decode(y: torch.Tensor, gap: float) -> torch.Tensor:
    """Network space -> [0, 1]; the inverse of :func:`encode` on its range, clamped outside it."""
    return ((y - (-1.0 + gap)) / (2.0 - gap)).clamp(0.0, 1.0)
