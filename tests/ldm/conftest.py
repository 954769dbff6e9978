"""Shared fixtures for the ldm plugin tests: tiny cohorts, tiny params and one fitted model."""

from __future__ import annotations

from typing import Any

import pytest
from benchgen_ddpm.testing import mni_cohort

from benchgen import registry
from benchgen.interfaces import FitContext

SHAPE = (8, 12, 8)

TINY: dict[str, Any] = {
    "channels": [8, 16], "attention_levels": [False, True], "num_head_channels": [0, 16],
    "num_res_blocks": 1, "norm_num_groups": 8, "batch_size": 2, "max_steps": 4, "val_every": 1,
    "sampler": "ddim", "inference_steps": 4, "lr": 1e-3, "checkpoint_every": 2,
    "ae_channels": [8, 8], "ae_latent_channels": 2, "ae_norm_num_groups": 4, "ae_max_steps": 4,
    "ae_batch_size": 2, "ae_lr": 1e-3, "reconstruction_volumes": 3,
}


def tiny(**changes: Any) -> dict[str, Any]:
    return {**TINY, **changes}


@pytest.fixture(scope="session")
def tiny_train():
    return mni_cohort(6, SHAPE, seed=0)


@pytest.fixture(scope="session")
def tiny_val():
    return mni_cohort(3, SHAPE, seed=1)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_train, tiny_val):
    """One tiny ldm fitted once and saved: (generator, its checkpoint folder, its workdir)."""
    work = tmp_path_factory.mktemp("ldm")
    gen = registry.create("generators", "ldm", tiny())
    gen.fit(tiny_train, FitContext(workdir=work / "work", seed=1, val=tiny_val))
    gen.save(work / "ckpt")
    return gen, work / "ckpt", work / "work"
