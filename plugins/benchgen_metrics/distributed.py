"""Splitting work across ``accelerate launch`` processes and gathering it back in order.

Outside a multi-process launch (``WORLD_SIZE`` unset or 1) everything runs in-process and Accelerate is
not even imported. Inside one, feature extraction is split by volume and MS-SSIM by pair with
``accelerate.PartialState``; ``accelerate.utils.gather_object`` reassembles the pieces in rank order,
so every process ends with the same numbers as a single process would.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import torch

from benchgen.interfaces import FeatureExtractor


def state() -> Any | None:
    """The Accelerate PartialState when running with more than one process, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    st = PartialState()
    return st if st.num_processes > 1 else None


def run_split(n: int, work: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``work(indices)`` over ``range(n)`` split across processes; results concatenated in index order."""
    st = state()
    if st is None:
        return work(np.arange(n))
    from accelerate.utils import gather_object

    mine = np.array_split(np.arange(n), st.num_processes)[st.process_index]
    part = work(mine) if len(mine) else None
    parts = gather_object([part])
    return np.concatenate([p for p in parts if p is not None])


def extract_split(ext: FeatureExtractor, data: torch.Tensor, device: str) -> np.ndarray:
    """Features of `data` (``N×1×D×H×W``), volumes split across processes."""
    st = state()
    if st is not None and str(device).startswith("cuda"):
        device = str(st.device)
    return run_split(len(data), lambda idx: ext.extract(data[torch.as_tensor(idx)], device))
