"""The paired bootstrap test of two cells and Holm's adjustment over many: what a board's rank intervals
(:func:`benchgen.board.board.separated_pairs`) and its verdicts (:mod:`benchgen.board.verdicts`) share."""

from __future__ import annotations

import numpy as np

LEVEL = 0.05


def p_value(diff: np.ndarray, observed: float) -> float | None:
    """Two-sided bootstrap p-value of a paired difference: twice the share of replicates on the far side of 0
    (the percentile interval at level 1 − p just reaches 0). It keeps the skew of FRD-like differences that a
    normal approximation would not; its resolution is 2/B, and 0 means every replicate lies on one side."""
    d = diff[np.isfinite(diff)]
    if d.size < 2:
        return None
    if not np.any(d) and observed == 0.0:
        return 1.0
    return float(min(1.0, 2.0 * min(np.mean(d <= 0.0), np.mean(d >= 0.0))))


def holm_adjusted(ps: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    out, running = [1.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = running
    return out
