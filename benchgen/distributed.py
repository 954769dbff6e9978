"""Which process am I? Under ``accelerate launch`` / ``torchrun`` several processes run one suite; only
the main one (rank 0) writes files and records. Read from the launcher's environment, so asking costs
nothing and needs no initialised process group."""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    """A barrier across processes (a no-op in a single process)."""
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()
