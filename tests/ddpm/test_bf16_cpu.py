"""`mixed_precision = "bf16"` on a CPU: the networks' convolutions run in bfloat16 while training (the ddpm's
denoiser and the ldm's autoencoder alike) and sampling (the ldm's decoder too); weights, EMA and losses stay
float32; the samples are float32 in [0, 1], close to the fp32 model's; every record says which precision and
how the CPU runs bf16."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from benchgen_ddpm.generator import DDPMGenerator
from benchgen_ddpm.params import DDPMParams

from benchgen import registry
from benchgen.interfaces import FitContext
from benchgen.provenance import cpu_bf16, environment

from .conftest import tiny


class ConvDtypes:
    """The dtypes the Conv3d layers of `model` compute in (their outputs'), while the hooks are on."""

    def __init__(self, model: torch.nn.Module):
        self.seen: set[torch.dtype] = set()
        self.handles = [m.register_forward_hook(lambda mod, args, out: self.seen.add(out.dtype))
                        for m in model.modules() if isinstance(m, torch.nn.Conv3d)]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def test_bf16_training_and_sampling_on_cpu(tmp_path, tiny_train):
    fits = {}
    for precision in ("no", "bf16"):
        gen = DDPMGenerator(DDPMParams(**{**tiny(max_steps=2, val_every=0), "mixed_precision": precision,
                                          "ema_decay": 0.9, "device": "cpu"}))
        gen.fit(tiny_train, FitContext(workdir=tmp_path / precision, seed=0, resume=False))
        assert all(v.dtype == torch.float32 for v in gen._model.state_dict().values() if v.is_floating_point())
        rec = ConvDtypes(gen._model)
        samples = gen.sample(3, seed=0)
        rec.remove()
        assert rec.seen == ({torch.bfloat16} if precision == "bf16" else {torch.float32})
        assert samples.dtype == torch.float32 and 0 <= samples.min() and samples.max() <= 1
        assert gen.sampler_info()["precision"] == {"no": "fp32", "bf16": "bf16"}[precision]
        fits[precision] = (gen.train_info["final_loss"], samples)
    (loss32, s32), (loss16, s16) = fits["no"], fits["bf16"]
    assert loss16 == pytest.approx(loss32, rel=0.1)  # two steps from the same start: bf16 rounding only
    assert not torch.equal(s32, s16) and (s32 - s16).abs().mean() < 0.05


def test_bf16_reaches_the_ldm_autoencoder_in_training(tmp_path, tiny_train):
    """Accelerate autocasts the prepared model's forward only; the ldm's objective calls encode / decode, so the
    loop's own autocast is what puts its autoencoder in bf16."""
    from benchgen_ldm import autoencoder

    seen: set[torch.dtype] = set()
    build = autoencoder.AutoencoderWithCritic

    class Recording(build):  # type: ignore[misc, valid-type]
        def __init__(self, p):
            super().__init__(p)
            for m in self.modules():
                if isinstance(m, torch.nn.Conv3d):
                    m.register_forward_hook(lambda mod, a, out: seen.add(out.dtype))

    autoencoder.AutoencoderWithCritic = Recording
    try:
        from ..ldm.conftest import tiny as ldm_tiny

        gen = registry.create("generators", "ldm", {**ldm_tiny(max_steps=1, ae_max_steps=2, val_every=0),
                                                    "mixed_precision": "bf16", "device": "cpu"})
        gen.fit(tiny_train, FitContext(workdir=Path(tmp_path) / "ldm", seed=0, resume=False))
    finally:
        autoencoder.AutoencoderWithCritic = build
    assert seen == {torch.bfloat16}
    assert gen.sampler_info()["precision"] == "bf16"
    assert gen.sample(2, seed=0).dtype == torch.float32


def test_every_record_says_how_the_cpu_runs_bf16():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    hw = environment("cpu")["extra"]["hardware"]
    assert hw["cpu_bf16"] == cpu_bf16() in ("native", "emulated", "none")
    if flags & {"avx512_bf16", "amx_bf16"}:
        assert hw["cpu_bf16"] == "native"
    elif flags and "avx512bw" not in flags:  # no AVX-512: oneDNN has no bf16 kernels here
        assert hw["cpu_bf16"] == "none"
