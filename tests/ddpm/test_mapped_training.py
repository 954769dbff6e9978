"""The one training loop (ddpm, ldm, finetune) reads a cohort on disk a batch at a time and trains exactly as it
does in memory."""

from __future__ import annotations

import pytest
import torch

from benchgen import registry
from benchgen.data.mapped import MappedCohort, write_volumes
from benchgen.interfaces import FitContext

from ..ldm.conftest import tiny as ldm_tiny
from .conftest import tiny


def on_disk(cohort, path):
    vf = write_volumes(path, iter(cohort.numpy()), len(cohort), cohort.shape)
    return MappedCohort(vf, cohort.affine, cohort.subject_ids, cohort.metadata)


@pytest.mark.parametrize("plugin, params", [("ddpm", tiny(max_steps=3, background_gap=0.1)),
                                            ("ldm", ldm_tiny(max_steps=2, ae_max_steps=2))])
def test_a_fit_from_disk_equals_the_fit_in_memory_and_never_loads_the_set(plugin, params, tmp_path, tiny_train,
                                                                         tiny_val, monkeypatch):
    samples = {}
    for where in ("memory", "disk"):
        train, val = tiny_train, tiny_val
        if where == "disk":
            train, val = on_disk(tiny_train, tmp_path / "train.npy"), on_disk(tiny_val, tmp_path / "val.npy")
            monkeypatch.setattr(MappedCohort, "data", property(lambda self: pytest.fail("loaded a whole set")))
        gen = registry.create("generators", plugin, params)
        gen.fit(train, FitContext(workdir=tmp_path / where, seed=5, val=val))
        samples[where] = (gen.sample(2, seed=1), gen.train_info["final_loss"], gen.train_info["final_val_loss"])
    assert torch.equal(samples["memory"][0], samples["disk"][0])
    assert samples["memory"][1:] == samples["disk"][1:]
