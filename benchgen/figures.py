"""PNG pictures a person would rather look at than read: slice montages of volumes (real vs generated, QC), and
the atomic writer every figure of ours is saved with."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchgen.atomic import atomic_path
from benchgen.errors import DataError


def mid_slices(volume: np.ndarray) -> list[np.ndarray]:
    """Axial, coronal and sagittal mid-slices of a RAS (x, y, z) volume, oriented for display."""
    x, y, z = (s // 2 for s in volume.shape)
    return [np.rot90(volume[:, :, z]), np.rot90(volume[:, y, :]), np.rot90(volume[x, :, :])]


def save_figure(fig: "object", path: str | Path) -> Path:
    """Save atomically (temporary file + rename) so a killed run leaves no half-written PNG."""
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return Path(path)


def montage(groups: Sequence[tuple[str, np.ndarray]], path: str | Path, n: int = 4, title: str = "",
            per_row: int = 1, autoscale: bool = False) -> Path:
    """Three mid-slices (axial, coronal, sagittal) of up to `n` volumes of each (name, N×D×H×W array)
    group, `per_row` volumes side by side. Intensities are shown on [0, 1] (the suite's scale), or with
    `autoscale` per volume from 0 to its 99.5th percentile (raw scans, QC)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tiles = [(name, vols[i]) for name, vols in groups for i in range(min(n, len(vols)))]
    if not tiles:
        raise DataError("no volumes for a montage")
    rows, cols = math.ceil(len(tiles) / per_row), 3 * min(per_row, len(tiles))
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows) if per_row == 1 else (1.6 * cols, 1.9 * rows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (name, vol) in enumerate(tiles):
        r, c = divmod(k, per_row)
        vmin, vmax = (float(min(vol.min(), 0.0)), float(np.percentile(vol, 99.5)) or 1.0) if autoscale else (0.0, 1.0)
        for t, (sl, view) in enumerate(zip(mid_slices(vol), ("axial", "coronal", "sagittal"))):
            ax = axes[r][3 * c + t]
            ax.imshow(sl, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
            if per_row == 1:  # one volume per row: views as column titles, names as row labels
                ax.axis("on")
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(view, fontsize=9)
                if t == 0:
                    ax.set_ylabel(name, fontsize=8)
            elif t == 1:
                ax.set_title(name, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10 if per_row == 1 else 9)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
