"""Sets of rows the functional metrics read piece by piece: an in-memory tensor or array, or anything with
``rows``/``columns`` (a :class:`benchgen.volumes.Cohort`, a memory-mapped one), so that a set larger than
memory is read in batches of volumes or of voxel columns instead of whole.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator, Protocol, Sequence, Union, runtime_checkable

import numpy as np
import torch

STREAM_BYTES = 256 << 20  # float32 + float64 copies of one column chunk of a streamed set


@runtime_checkable
class RowSource(Protocol):
    """N rows of ``row_size`` values each (volumes: voxels), read by row index or by column range."""

    streamed: ClassVar[bool]  # True: the rows live on disk; read them in pieces

    def __len__(self) -> int: ...

    @property
    def row_size(self) -> int: ...

    def rows(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor: ...  # k×… float32

    def columns(self, start: int, stop: int) -> torch.Tensor: ...  # N×(stop−start), rows flattened


Data = Union[torch.Tensor, np.ndarray, RowSource]


class InMemory:
    """A tensor or array as a RowSource (rows keep their trailing shape)."""

    streamed: ClassVar[bool] = False

    def __init__(self, x: torch.Tensor | np.ndarray):
        self.t = torch.as_tensor(x)
        self.flat = self.t.reshape(self.t.shape[0], -1)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def row_size(self) -> int:
        return int(self.flat.shape[1])

    def rows(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        return self.t[torch.as_tensor(np.asarray(indices, dtype=np.int64))]

    def columns(self, start: int, stop: int) -> torch.Tensor:
        return self.flat[:, start:stop]


def source(x: Data) -> RowSource:
    return x if isinstance(x, RowSource) else InMemory(x)


def is_streamed(x: Any) -> bool:
    return bool(getattr(x, "streamed", False))


def column_chunk(chunk: int, n_rows: int, *sets: Any) -> int:
    """`chunk` columns, or fewer when a set is streamed: then a chunk of all `n_rows` rows, read in float32
    and converted to float64, stays within STREAM_BYTES (in-memory sets keep `chunk`: the same sums)."""
    if not any(is_streamed(s) for s in sets):
        return chunk
    return max(1, min(chunk, STREAM_BYTES // (12 * max(1, n_rows))))


def iter_batches(src: Data, size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """``(first row, rows first..first+size)`` over the whole set; the same for in-memory and mapped sets."""
    s = source(src)
    for start in range(0, len(s), size):
        yield start, s.rows(np.arange(start, min(start + size, len(s))))
