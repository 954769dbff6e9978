"""Build the MONAI ``DiffusionModelUNet`` from the params, and check a volume shape fits it."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from monai.networks.nets import DiffusionModelUNet

from benchgen.errors import ConfigError
from benchgen_ddpm.conditioning import Conditioner
from benchgen_ddpm.params import DDPMParams


def build_unet(p: DDPMParams, conditioner: Conditioner | None = None, in_channels: int = 1) -> DiffusionModelUNet:
    """The 3D denoising UNet exactly as configured (1 channel in and out for volumes, the latent channels for
    an ldm); no forward pass. A conditional config needs the `conditioner` learned from its training data
    (the number of classes sizes the network)."""
    if tuple(p.condition_on) != (conditioner.condition_on if conditioner else ()):
        raise ValueError(f"build_unet: condition_on {list(p.condition_on)} needs its conditioner")
    # Levels without attention get head channels 0 in the paper; MONAI ignores them there, but its
    # attention blocks need a positive value, so only attention levels carry the configured number.
    heads = tuple(h if att else 0 for h, att in zip(p.num_head_channels, p.attention_levels))
    return DiffusionModelUNet(
        spatial_dims=3, in_channels=in_channels, out_channels=in_channels,
        channels=tuple(p.channels), attention_levels=tuple(p.attention_levels), num_head_channels=heads,
        num_res_blocks=p.num_res_blocks, norm_num_groups=p.norm_num_groups,
        use_flash_attention=p.use_flash_attention, **_conditioning_args(conditioner),
    )


def _conditioning_args(c: Conditioner | None) -> dict[str, Any]:
    """MONAI's class embedding and cross-attention arguments (none for an unconditional model)."""
    args: dict[str, Any] = {}
    if c is not None and c.num_class_embeds is not None:
        args["num_class_embeds"] = c.num_class_embeds
    if c is not None and c.context_dim is not None:
        args.update(with_conditioning=True, cross_attention_dim=c.context_dim)
    return args


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_shape(shape: Sequence[int], p: DDPMParams) -> None:
    """Each level but the last halves the volume: every side must be divisible by 2^(levels-1)."""
    factor = 2 ** (len(p.channels) - 1)
    bad = [int(s) for s in shape if int(s) % factor]
    if len(shape) != 3 or bad:
        raise ConfigError(
            f"ddpm: volume shape {tuple(int(s) for s in shape)} does not fit a {len(p.channels)}-level UNet: "
            f"every side must be divisible by 2^{len(p.channels) - 1} = {factor}",
            "change dataset.shape or the number of ddpm channels levels")


def resolve_device(p: DDPMParams, suite_device: str | None = None) -> str:
    """The plugin's own ``device`` when set to cpu or cuda; ``auto`` follows the suite's device (the
    runner's ``Generator.device``) and, outside a suite, takes cuda when present. Asking for cuda
    without it is a ConfigError."""
    has_cuda = torch.cuda.is_available()
    wanted = p.device if p.device != "auto" else (suite_device or "auto")
    if wanted.startswith("cuda") and not has_cuda:
        raise ConfigError("ddpm: device = \"cuda\" but no CUDA device is available",
                          "set device = \"auto\" or \"cpu\"")
    device = wanted if wanted != "auto" else ("cuda" if has_cuda else "cpu")
    if p.mixed_precision == "fp16" and not device.startswith("cuda"):
        raise ConfigError("ddpm: mixed_precision = \"fp16\" needs a CUDA device",
                          "use \"bf16\" or \"no\" on CPU")
    return device
