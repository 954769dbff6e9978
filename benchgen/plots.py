"""PNG pictures a person would rather look at than read: slice montages of real vs generated volumes."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from benchgen.atomic import atomic_path


def mid_slices(volume: np.ndarray) -> list[np.ndarray]:
    """Axial, coronal and sagittal mid-slices of a RAS (x, y, z) volume, oriented for display."""
    x, y, z = (s // 2 for s in volume.shape)
    return [np.rot90(volume[:, :, z]), np.rot90(volume[:, y, :]), np.rot90(volume[x, :, :])]


def save_figure(fig: "object", path: str | Path) -> Path:
    """Save atomically (temporary file + rename) so a killed run leaves no half-written PNG."""
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return Path(path)


def montage(groups: Sequence[tuple[str, np.ndarray]], path: str | Path, n: int = 4, title: str = "") -> Path:
    """One row per volume: `n` volumes of each (name, N×D×H×W array) group, three mid-slices each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(name, vols[i]) for name, vols in groups for i in range(min(n, len(vols)))]
    fig, axes = plt.subplots(len(rows), 3, figsize=(6, 2 * len(rows)), squeeze=False)
    for r, (name, vol) in enumerate(rows):
        for c, (sl, view) in enumerate(zip(mid_slices(vol), ("axial", "coronal", "sagittal"))):
            ax = axes[r][c]
            ax.imshow(sl, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(view, fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
