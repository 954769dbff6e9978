"""Shared fixtures for the ddpm plugin tests: tiny MNI152-derived cohorts and tiny params."""

from __future__ import annotations

from typing import Any

import pytest
from benchgen_ddpm.testing import mni_cohort

SHAPE = (8, 12, 8)

TINY: dict[str, Any] = {
    "channels": [8, 16], "attention_levels": [False, True], "num_head_channels": [0, 16],
    "num_res_blocks": 1, "norm_num_groups": 8, "batch_size": 2, "max_steps": 4, "val_every": 1,
    "sampler": "ddim", "inference_steps": 4, "lr": 1e-3, "checkpoint_every": 2,
}


@pytest.fixture(scope="session")
def tiny_train():
    return mni_cohort(6, SHAPE, seed=0)


@pytest.fixture(scope="session")
def tiny_val():
    return mni_cohort(3, SHAPE, seed=1)


def tiny(**changes: Any) -> dict[str, Any]:
    return {**TINY, **changes}
