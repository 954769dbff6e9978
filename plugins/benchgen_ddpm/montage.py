"""Slice montage (the paper's Figure 3): axial, coronal and sagittal mid-slices of real vs generated volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mid_slices(vol: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Mid-slices of a RAS volume (x: left->right, y: posterior->anterior, z: inferior->superior),
    oriented for display with origin='lower'."""
    x, y, z = (s // 2 for s in vol.shape)
    return [("axial", vol[:, :, z].T), ("coronal", vol[:, y, :].T), ("sagittal", vol[x, :, :].T)]


def save_montage(real: np.ndarray, synthetic: np.ndarray, path: str | Path, n: int = 4,
                 title: str = "real (top) vs generated (bottom)") -> Path:
    """`n` real and `n` generated volumes (arrays ``N×D×H×W`` in [0, 1]); one column per volume and
    plane, real rows above generated rows. Written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real, synthetic = np.asarray(real), np.asarray(synthetic)
    if real.ndim == 5:
        real = real[:, 0]
    if synthetic.ndim == 5:
        synthetic = synthetic[:, 0]
    n = min(n, len(real), len(synthetic))
    planes = 3
    fig, axes = plt.subplots(2 * planes, n, figsize=(1.6 * n, 1.6 * 2 * planes * 0.9), dpi=110, squeeze=False)
    for row_block, (label, vols) in enumerate((("real", real), ("generated", synthetic))):
        for j in range(n):
            for k, (plane, img) in enumerate(mid_slices(vols[j])):
                ax = axes[row_block * planes + k, j]
                ax.imshow(img, cmap="gray", vmin=0, vmax=1, origin="lower", interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(f"{label}\n{plane}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
