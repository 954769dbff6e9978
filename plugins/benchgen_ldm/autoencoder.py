"""Stage 1 of the ldm: MONAI's 3D ``AutoencoderKL`` trained with L1 + KL (+ a patch adversarial term and a
perceptual term from local weights, when asked), as an :class:`~benchgen_ddpm.loop.Objective` of the
ddpm's training loop; then the latents the denoiser learns and the reconstruction quality a user checks
before looking at samples.

The adversarial term is a simultaneous update in the one loop: the autoencoder's loss scores its
reconstruction with a *detached* copy of the discriminator's parameters (so that gradient reaches only the
autoencoder), and the discriminator's loss sees the reconstruction detached (so that gradient reaches only
the discriminator); one Adam steps both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from benchgen_ddpm.intensity import Volumes, decode
from benchgen_ddpm.loop import Objective, volumes_fingerprint
from monai.losses import PatchAdversarialLoss
from monai.networks.nets import AutoencoderKL, PatchDiscriminator
from torch.func import functional_call

from benchgen.errors import ConfigError
from benchgen.hashing import fingerprint
from benchgen.params import params_to_dict
from benchgen_ldm.params import AE_TRAINING_FIELDS, LDMParams


def build_autoencoder(p: LDMParams) -> AutoencoderKL:
    levels = len(p.ae_channels)
    return AutoencoderKL(
        spatial_dims=3, in_channels=1, out_channels=1, channels=tuple(p.ae_channels),
        latent_channels=p.ae_latent_channels, num_res_blocks=p.ae_num_res_blocks,
        norm_num_groups=p.ae_norm_num_groups, attention_levels=tuple([False] * (levels - 1) + [p.ae_attention]),
        with_encoder_nonlocal_attn=p.ae_attention, with_decoder_nonlocal_attn=p.ae_attention,
        use_flash_attention=p.ae_attention and p.use_flash_attention)


class AutoencoderWithCritic(torch.nn.Module):
    """What stage 1 trains: the autoencoder and, with an adversarial term, its patch discriminator."""

    def __init__(self, p: LDMParams):
        super().__init__()
        self.autoencoder = build_autoencoder(p)
        self.discriminator = (PatchDiscriminator(spatial_dims=3, channels=p.disc_channels, in_channels=1,
                                                 num_layers_d=p.disc_layers) if p.adv_weight else None)


def latent_shape(shape: Sequence[int], p: LDMParams) -> tuple[int, int, int]:
    """The latent's side lengths; every check of a volume shape against both networks, in one ConfigError."""
    shape = tuple(int(s) for s in shape)
    f = p.downsampling
    if len(shape) != 3 or any(s % f for s in shape):
        raise ConfigError(f"ldm: volume shape {shape} does not fit a {len(p.ae_channels)}-level autoencoder: "
                          f"every side must be divisible by 2^{len(p.ae_channels) - 1} = {f}",
                          "change dataset.shape or the number of ae_channels levels")
    latent = tuple(s // f for s in shape)
    g = 2 ** (len(p.channels) - 1)
    if any(s % g for s in latent):
        raise ConfigError(f"ldm: latent shape {latent} (volume {shape} / {f}) does not fit a {len(p.channels)}-level "
                          f"UNet: every side must be divisible by 2^{len(p.channels) - 1} = {g}",
                          "change dataset.shape, ae_channels or the number of channels levels of the latent UNet")
    return latent  # type: ignore[return-value]


def check_discriminator(shape: Sequence[int], p: LDMParams) -> None:
    """A patch discriminator deeper than the volume allows fails in its first step: find out now, on the
    meta device (shapes only, no memory or compute)."""
    if not p.adv_weight:
        return
    with torch.device("meta"):
        disc = PatchDiscriminator(spatial_dims=3, channels=p.disc_channels, in_channels=1, num_layers_d=p.disc_layers)
        try:
            disc(torch.zeros((2, 1, *shape)))  # 2: batch norm needs more than one value
        except (RuntimeError, ValueError):
            raise ConfigError(f"ldm: disc_layers = {p.disc_layers} is too deep for volumes of {tuple(shape)} "
                              "(each layer halves them, down to less than its 4-voxel kernel)",
                              "lower disc_layers") from None


def kl_divergence(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma²) || N(0, 1)) summed over a latent, averaged over the batch (MONAI's tutorials)."""
    kl = 0.5 * (mu.pow(2) + sigma.pow(2) - torch.log(sigma.pow(2)) - 1)
    return kl.sum(dim=tuple(range(1, kl.ndim))).mean()


def perceptual_loss(p: LDMParams) -> torch.nn.Module | None:
    """MONAI's PerceptualLoss on a local ResNet-50 state dict (fake 3D: 2D slices along the three axes)."""
    if not p.perceptual_weight:
        return None
    path = Path(str(p.perceptual_weights)).expanduser()
    if not path.is_file():
        raise ConfigError(f"ldm: perceptual_weights {path} does not exist",
                          "give the path of a local ResNet-50 state dict (docs/ldm.md says what to fetch), "
                          "or set perceptual_weight = 0")
    try:
        import torchvision  # noqa: F401  (MONAI's ResNet-50 perceptual network needs it)
    except ImportError:
        raise ConfigError("ldm: perceptual_weight > 0 needs torchvision", "pip install torchvision "
                          "(the build matching your torch), or set perceptual_weight = 0") from None
    from monai.losses import PerceptualLoss

    try:
        return PerceptualLoss(spatial_dims=3, network_type="resnet50", is_fake_3d=True, fake_3d_ratio=0.2,
                              pretrained=True, pretrained_path=str(path))
    except Exception as exc:  # not a state dict, or another network's
        raise ConfigError(f"ldm: perceptual_weights {path} is not a ResNet-50 state dict "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
                          "give torchvision's resnet50 weights (a .pth of its state_dict)") from None


def autoencoder_objective(p: LDMParams, train_x: Volumes, seed: int) -> Objective:
    """Stage 1 for the shared loop. Volumes in the ddpm's network space ([-1, 1], with its background gap)."""
    perceptual = perceptual_loss(p)  # before any training: a bad weights path is a config error
    adversarial = PatchAdversarialLoss(criterion="least_squares")

    def loss(model: Any, x0: torch.Tensor, idx: torch.Tensor, g: torch.Generator, step: int,
             device: Any) -> torch.Tensor:
        net = getattr(model, "module", model)  # Accelerate may wrap it (DDP)
        mu, sigma = net.autoencoder.encode(x0)
        # the reparameterisation's noise from the step's generator, not torch's global one (which
        # AutoencoderKL.forward would use), so a resumed run draws what the uninterrupted one drew
        eps = torch.randn(mu.shape, generator=g).to(device)
        recon = net.autoencoder.decode(mu + eps * sigma)
        total = F.l1_loss(recon.float(), x0.float()) + p.kl_weight * kl_divergence(mu.float(), sigma.float())
        if perceptual is not None:
            perceptual.to(device)
            total = total + p.perceptual_weight * perceptual((recon.float() + 1) / 2, (x0.float() + 1) / 2)
        if net.discriminator is not None and step >= p.adv_start_step:
            frozen = {k: v.detach() for k, v in net.discriminator.named_parameters()}
            fooled = functional_call(net.discriminator, frozen, (recon,))[-1]
            total = total + p.adv_weight * adversarial(fooled, target_is_real=True, for_discriminator=False)
            fake = net.discriminator(recon.detach())[-1]
            real = net.discriminator(x0)[-1]
            total = total + 0.5 * (adversarial(fake, target_is_real=False, for_discriminator=True)
                                   + adversarial(real, target_is_real=True, for_discriminator=True))
        return total

    def val_loss(model: torch.nn.Module, val: Volumes, accelerator: Any) -> float:
        with accelerator.autocast():
            return float(reconstruction_l1(model.autoencoder, val, p.ae_batch_size, accelerator.device))

    d = params_to_dict(p)
    config = {k: d.get(k) for k in AE_TRAINING_FIELDS}
    return Objective("ldm", "autoencoder", lambda: AutoencoderWithCritic(p), loss, val_loss, config,
                     fingerprint({"stage": "autoencoder", "data": volumes_fingerprint(train_x)}))


def _batches(x: Volumes, batch: int) -> Any:
    for i in range(0, len(x), batch):
        yield x[i:i + batch]


@torch.no_grad()
def reconstruction_l1(ae: Any, x: Volumes, batch: int, device: Any) -> float:
    was = ae.training
    ae.eval()
    total = sum(float((ae.reconstruct(b.to(device)).float() - b.to(device)).abs().mean()) * len(b)
                for b in _batches(x, batch))
    ae.train(was)
    return total / max(len(x), 1)


@torch.no_grad()
def encode_latents(ae: Any, x: Volumes, batch: int, device: Any) -> torch.Tensor:
    """The posterior means of `x` (network space): deterministic, so a resumed stage 2 sees the same latents."""
    ae.eval()
    return torch.cat([ae.encode(b.to(device))[0].float().cpu() for b in _batches(x, batch)])


@torch.no_grad()
def decode_latents(ae: Any, z: torch.Tensor, gap: float, batch: int, device: Any) -> torch.Tensor:
    """Latents (unscaled) -> volumes in [0, 1]."""
    ae.eval()
    return torch.cat([decode(ae.decode(b.to(device)).float().cpu(), gap) for b in _batches(z, batch)])


def reconstruction_quality(real: torch.Tensor, recon: torch.Tensor) -> dict[str, float]:
    """PSNR and SSIM (MONAI's metrics, data range 1) and L1 of reconstructions against their scans, [0, 1]."""
    from monai.metrics import PSNRMetric, SSIMMetric

    win = min(7, *real.shape[2:])
    win -= 1 - win % 2  # odd
    psnr = PSNRMetric(max_val=1.0)(recon, real)
    ssim = SSIMMetric(spatial_dims=3, data_range=1.0, win_size=max(win, 1))(recon, real)
    return {"psnr": round(float(torch.as_tensor(psnr).mean()), 4), "ssim": round(float(torch.as_tensor(ssim).mean()), 4),
            "l1": round(float((recon - real).abs().mean()), 5), "volumes": int(len(real))}
