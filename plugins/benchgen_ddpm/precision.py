"""The one autocast of the ddpm family (ddpm, finetune, ldm) outside Accelerate's training wrapper: sampling,
and the ldm's latent encoding and decoding. `mixed_precision = "bf16"` runs the networks' matmuls and
convolutions in bfloat16 on a CPU or a GPU; weights, losses, the EMA and the sampler's running state stay
float32 (every network output is cast back before a scheduler step)."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

NAMES = {"no": "fp32", "bf16": "bf16", "fp16": "fp16"}


def autocast(device: Any, mixed_precision: str) -> contextlib.AbstractContextManager[Any]:
    """torch.autocast for `mixed_precision` on `device` ("cpu", "cuda", "cuda:1", a torch.device); a no-op for "no"."""
    if mixed_precision == "no":
        return contextlib.nullcontext()
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16 if mixed_precision == "bf16" else torch.float16)


def precision_name(mixed_precision: str) -> str:
    """What records call the precision: fp32, bf16 or fp16."""
    return NAMES[mixed_precision]
