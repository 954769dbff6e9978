"""``degraded``: held-out real scans with a controlled degradation, for the metric sanity suite.

It "samples" from the validation split (``FitContext.val``; ``kind="copies"`` samples the training split;
``source`` overrides either) and degrades each volume by a pure function of (volume, level, rng) —
:func:`degrade` — so tests use the same functions. Kinds and what ``level`` means:

* ``none`` — unchanged held-out scans (a second holdout);
* ``noise`` — additive Gaussian noise, std ``level`` (intensities in [0, 1]), clipped to [0, 1];
* ``blur`` — Gaussian blur, sigma ``level`` voxels;
* ``shift`` — ``level`` added to every brain voxel (> 0), clipped to [0, 1];
* ``collapse`` — mode collapse: one held-out subject repeated n times (plus noise of std ``level``);
* ``copies`` — training scans returned as samples (plus noise of std ``level``; 0 = exact copies);
* ``translate`` — an integer translation by ``level`` voxels along every axis (a random sign per axis and
  volume), zero-filled; with ``source = "train"``: near-copies the memorization metric must flag;
* ``scale`` — intensities multiplied by ``level`` (e.g. 0.9), clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from scipy import ndimage

from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import FitContext, Generator, ProgressFn, no_progress
from benchgen.volumes import Cohort

Kind = Literal["none", "noise", "blur", "shift", "collapse", "copies", "translate", "scale"]
Source = Literal["auto", "val", "train"]


def add_noise(volume: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    if level <= 0:
        return volume.copy()
    return np.clip(volume + rng.normal(0.0, level, volume.shape).astype(np.float32), 0.0, 1.0)


def blur(volume: np.ndarray, level: float) -> np.ndarray:
    if level <= 0:
        return volume.copy()
    return ndimage.gaussian_filter(volume, sigma=level, mode="nearest").astype(np.float32)


def shift(volume: np.ndarray, level: float) -> np.ndarray:
    return np.where(volume > 0, np.clip(volume + level, 0.0, 1.0), volume).astype(np.float32)


def translate(volume: np.ndarray, offset: tuple[int, ...] | np.ndarray) -> np.ndarray:
    """`volume` moved by an integer `offset` (voxels per axis): ``out[v + offset] = volume[v]``, zero-filled."""
    out = np.zeros_like(volume)
    src = tuple(slice(max(0, -a), n - max(0, a)) for a, n in zip(offset, volume.shape))
    dst = tuple(slice(max(0, a), n - max(0, -a)) for a, n in zip(offset, volume.shape))
    out[dst] = volume[src]
    return out


def degrade(volume: np.ndarray, kind: str, level: float, rng: np.random.Generator) -> np.ndarray:
    """One volume (``D×H×W`` float32 in [0, 1]) degraded by `kind` at `level`."""
    volume = np.asarray(volume, dtype=np.float32)
    if kind == "none":
        return volume.copy()
    if kind == "blur":
        return blur(volume, level)
    if kind == "shift":
        return shift(volume, level)
    if kind in ("noise", "collapse", "copies"):
        return add_noise(volume, level, rng)
    if kind == "translate":
        return translate(volume, int(round(level)) * rng.choice([-1, 1], size=volume.ndim))
    if kind == "scale":
        return np.clip(volume * np.float32(level), 0.0, 1.0).astype(np.float32)
    raise ValueError(f"unknown degradation kind {kind!r}")


def degrade_set(volumes: np.ndarray, kind: str, level: float, n: int, seed: int) -> np.ndarray:
    """n degraded volumes drawn from `volumes` (``N×D×H×W``): a seeded permutation, cycled if n > N;
    ``collapse`` repeats one seeded choice."""
    rng = np.random.default_rng(seed)
    if kind == "collapse":
        idx = np.full(n, rng.integers(len(volumes)))
    else:
        reps = int(np.ceil(n / len(volumes)))
        idx = np.concatenate([rng.permutation(len(volumes)) for _ in range(reps)])[:n]
    return np.stack([degrade(volumes[i], kind, level, rng) for i in idx])


class Degraded(Generator):
    """Held-out (or, for ``copies`` or ``source = "train"``, training) scans with a controlled degradation."""

    version = "1"
    tiny_params = {"kind": "noise", "level": 0.05}

    @dataclass(frozen=True)
    class Params:
        kind: Kind = "none"
        level: float = 0.0
        source: Source = "auto"  # which split is degraded; auto: train for copies, val otherwise

        def __post_init__(self) -> None:
            if self.level < 0:
                raise ValueError(f"level must be >= 0, got {self.level}")
            if self.kind == "translate" and self.level != round(self.level):
                raise ValueError(f"a translation level is a whole number of voxels, got {self.level}")
            if self.kind == "shift" and self.level > 1:
                raise ValueError(f"a shift level must be <= 1 (intensities are in [0, 1]), got {self.level}")

    def __init__(self, params: "Degraded.Params | None" = None):
        super().__init__(params)
        self._source: np.ndarray | None = None

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        source = self.params.source
        if source == "train" or (source == "auto" and self.params.kind == "copies"):
            self._source = train.numpy().copy()
        else:
            if ctx.val is None or len(ctx.val) == 0:
                raise ConfigError("generator 'degraded' needs a validation split (dataset.split.val > 0)")
            self._source = ctx.val.numpy().copy()

    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        if self._source is None:
            raise DataError("generator 'degraded' was not fitted")
        out = degrade_set(self._source, self.params.kind, self.params.level, n, seed)
        progress("degraded", n, n)
        return torch.from_numpy(out)[:, None]

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        assert self._source is not None
        save_file({"source": np.ascontiguousarray(self._source)}, str(folder / "source.safetensors"))

    def load(self, folder: Path) -> None:
        from safetensors.numpy import load_file

        path = folder / "source.safetensors"
        if not path.is_file():
            raise DataError(f"{path}: missing; re-fit the 'degraded' generator")
        self._source = load_file(str(path))["source"]
