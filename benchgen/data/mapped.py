"""Cohorts larger than memory: the volumes of a set in one ``.npy`` file on disk, read batch by batch.

A :class:`MappedCohort` is a :class:`~benchgen.volumes.Cohort` whose voxels stay in an ``N×1×D×H×W`` float32
``.npy`` file. Metrics read it through ``rows`` (batches of volumes) and ``columns`` (voxel ranges of every
volume, for Gram matrices); see :func:`benchgen.functional.sources.iter_batches`. Reads are ``os.preadv``
into fresh buffers rather than ``np.memmap``: a mapping keeps every page it has touched resident (and
counted in RSS) until it is unmapped, so one pass over a mapped 7 GB set would look like 7 GB of RSS.
A plugin that uses ``cohort.data`` still works: that loads the whole set into memory, once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from benchgen.atomic import atomic_path
from benchgen.errors import DataError
from benchgen.functional.sources import iter_batches
from benchgen.volumes import Cohort

__all__ = ["MappedCohort", "VolumeFile", "iter_batches", "write_volumes"]


class VolumeFile:
    """An ``N×1×D×H×W`` (or ``N×D×H×W``) little-endian float32 C-order ``.npy`` file, read with pread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                shape, fortran, dtype = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                                         else np.lib.format.read_array_header_2_0(f))
                self.offset = f.tell()
        except (OSError, ValueError) as exc:
            raise DataError(f"{self.path}: not a readable .npy volume file ({exc})") from None
        if dtype != np.dtype("<f4") or fortran or len(shape) not in (4, 5) or (len(shape) == 5 and shape[1] != 1):
            raise DataError(f"{self.path}: expected N×1×D×H×W float32 (C order), got {dtype} {shape}")
        self.n = int(shape[0])
        self.volume_shape: tuple[int, int, int] = tuple(int(s) for s in shape[-3:])  # type: ignore[assignment]
        self.row_size = int(np.prod(self.volume_shape))
        expected = self.offset + self.n * self.row_size * 4
        if self.path.stat().st_size < expected:
            raise DataError(f"{self.path}: {self.path.stat().st_size} bytes, the header needs {expected} (truncated?)")

    def _read_into(self, fd: int, buf: np.ndarray, offset: int) -> None:
        view = buf.data.cast("B")
        done = 0
        while done < len(view):  # preadv may return short counts (2 GiB per call on Linux)
            got = os.preadv(fd, [view[done:]], offset + done)
            if got <= 0:
                raise DataError(f"{self.path}: file ends early (truncated?)")
            done += got

    def read_rows(self, indices: np.ndarray) -> np.ndarray:
        """Volumes `indices` as ``k×D×H×W``: one read per run of consecutive indices."""
        out = np.empty((len(indices), *self.volume_shape), np.float32)
        flat = out.reshape(len(indices), -1)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            i = 0
            while i < len(indices):
                j = i + 1
                while j < len(indices) and indices[j] == indices[j - 1] + 1:
                    j += 1
                self._read_into(fd, flat[i:j], self.offset + int(indices[i]) * self.row_size * 4)
                i = j
        finally:
            os.close(fd)
        return out

    def read_columns(self, indices: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Flattened voxels ``start:stop`` of volumes `indices`, ``k×(stop−start)``."""
        stop = min(stop, self.row_size)
        out = np.empty((len(indices), max(0, stop - start)), np.float32)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for k, i in enumerate(indices):
                self._read_into(fd, out[k], self.offset + (int(i) * self.row_size + start) * 4)
        finally:
            os.close(fd)
        return out


def write_volumes(path: str | Path, volumes: Iterable[np.ndarray], n: int, shape: Sequence[int]) -> VolumeFile:
    """Write `n` volumes of `shape` (an iterable, consumed one at a time) as an ``N×1×D×H×W`` float32 ``.npy``,
    atomically. Plain writes, not a writable mapping: its dirty pages would count in RSS."""
    shape = tuple(int(s) for s in shape)
    path = Path(path)
    with atomic_path(path, ".npy") as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, 1, *shape)})
        count = 0
        for v in volumes:
            a = np.ascontiguousarray(v, dtype="<f4")
            if a.shape != shape:
                raise DataError(f"{path}: volume {count} has shape {a.shape}, expected {shape}")
            f.write(a.data.cast("B"))
            count += 1
        if count != n:
            raise DataError(f"{path}: {count} volumes written, {n} announced")
    return VolumeFile(path)


class MappedCohort(Cohort):
    """A Cohort whose voxels stay on disk in a :class:`VolumeFile` (optionally a subset of its rows)."""

    streamed = True

    def __init__(self, file: VolumeFile, affine: np.ndarray, subject_ids: Sequence[str],
                 metadata: list[dict[str, Any]] | None = None, index: Sequence[int] | np.ndarray | None = None):
        self.file = file
        self.index = np.arange(file.n) if index is None else np.asarray(index, dtype=np.int64)
        self.affine = affine
        self.subject_ids = list(subject_ids)
        self.metadata = list(metadata) if metadata else [{} for _ in self.subject_ids]
        self._loaded: torch.Tensor | None = None
        if len(self.subject_ids) != len(self.index) or len(self.metadata) != len(self.index):
            raise DataError(f"{file.path}: {len(self.subject_ids)} subject ids for {len(self.index)} volumes")

    @classmethod
    def open(cls, path: str | Path, role: str = "set") -> "MappedCohort":
        """A ``.npy`` volume file as a cohort (identity affine, ids ``ROLE-0000``…)."""
        f = VolumeFile(path)
        return cls(f, np.eye(4), [f"{role}-{i:04d}" for i in range(f.n)])

    @property
    def data(self) -> torch.Tensor:
        """The whole set in memory, for plugins that do not read in batches (loaded once)."""
        if self._loaded is None:
            self._loaded = self.rows(np.arange(len(self)))
        return self._loaded

    @data.setter
    def data(self, value: torch.Tensor) -> None:
        raise AttributeError("a MappedCohort's voxels are read-only")

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"MappedCohort({self.file.path}, {len(self)} volumes of {'×'.join(map(str, self.shape))})"

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.file.volume_shape

    def rows(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.file.read_rows(self.index[np.asarray(indices, dtype=np.int64)]))[:, None]

    def columns(self, start: int, stop: int) -> torch.Tensor:
        return torch.from_numpy(self.file.read_columns(self.index, start, stop))

    def subset(self, indices: Sequence[int]) -> "MappedCohort":
        idx = list(indices)
        return MappedCohort(self.file, self.affine, [self.subject_ids[i] for i in idx],
                            [self.metadata[i] for i in idx], self.index[idx])
