"""The ldm plugin's settings: every ddpm setting (they drive the latent denoiser, its training and sampling)
plus the autoencoder's. Defaults follow MONAI's 3D latent-diffusion tutorial (AutoencoderKL with channels
32/64/64, 3 latent channels, one residual block, no attention; L1 + KL 1e-6, adversarial 0.01 when on;
DDPM betas 0.0015-0.0195 without clipping, since latents are not bounded to [-1, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchgen_ddpm.params import MODEL_FIELDS, SAMPLING_FIELDS, TRAINING_FIELDS, DDPMParams


@dataclass(frozen=True)
class LDMParams(DDPMParams):
    # ------------------------------------------------------------- latent denoiser (a DDPM on the latents)
    beta_start: float = 0.0015
    clip_sample: bool = False  # latents scaled to unit variance are not confined to [-1, 1]
    # ------------------------------------------------------------- autoencoder (MONAI AutoencoderKL)
    ae_channels: tuple[int, ...] = (32, 64, 64)  # each level after the first halves the volume
    ae_latent_channels: int = 3
    ae_num_res_blocks: int = 1
    ae_norm_num_groups: int = 16
    ae_attention: bool = False  # attention at the deepest level and the non-local blocks (costly in 3D)
    # ------------------------------------------------------------- autoencoder training (stage 1)
    ae_lr: float = 1e-4
    ae_max_steps: int = 2000
    ae_batch_size: int = 2
    kl_weight: float = 1e-6
    adv_weight: float = 0.0  # > 0: MONAI PatchDiscriminator, least-squares patch loss (the tutorial: 0.01)
    adv_start_step: int = 0  # the adversarial term joins after this many steps (a warm-up of L1 + KL alone)
    disc_channels: int = 32
    disc_layers: int = 3
    perceptual_weight: float = 0.0  # > 0 needs perceptual_weights
    # a local ResNet-50 state dict (torchvision layout) for MONAI's PerceptualLoss("resnet50", fake 3D):
    # nothing is downloaded (docs/ldm.md says what to fetch)
    perceptual_weights: str | None = None
    # an ldm checkpoint folder whose autoencoder (and latent scale) to use instead of training one
    autoencoder: str | None = None
    # ------------------------------------------------------------- sampling
    # True: "samples" are the autoencoder's reconstructions of the validation scans (cycled to n): the
    # suite's metrics on them show what the latent space can hold before any diffusion
    reconstruct: bool = False
    reconstruction_volumes: int = 64  # how many validation reconstructions a checkpoint keeps

    def __post_init__(self) -> None:
        super().__post_init__()
        levels = len(self.ae_channels)
        if levels < 1 or any(c <= 0 or c % self.ae_norm_num_groups for c in self.ae_channels):
            raise ValueError(f"ae_channels {list(self.ae_channels)} must be positive and divisible by "
                             f"ae_norm_num_groups={self.ae_norm_num_groups}")
        if self.ae_latent_channels < 1 or self.ae_num_res_blocks < 1:
            raise ValueError("ae_latent_channels and ae_num_res_blocks must be >= 1")
        if self.ae_lr <= 0 or self.ae_max_steps < 1 or self.ae_batch_size < 1:
            raise ValueError("ae_lr must be > 0, ae_max_steps and ae_batch_size >= 1")
        if self.kl_weight < 0 or self.adv_weight < 0 or self.perceptual_weight < 0 or self.adv_start_step < 0:
            raise ValueError("kl_weight, adv_weight, perceptual_weight and adv_start_step must be >= 0")
        if self.disc_channels < 1 or self.disc_layers < 1:
            raise ValueError("disc_channels and disc_layers must be >= 1")
        if self.perceptual_weight and not self.perceptual_weights:
            raise ValueError("perceptual_weight > 0 needs perceptual_weights: the path of a local ResNet-50 "
                             "state dict (nothing is downloaded)")
        if self.clip_sample:
            raise ValueError("clip_sample = true clamps to [-1, 1], but the ldm samples latents of unit variance, "
                             "not volumes: leave it false")
        if self.reconstruction_volumes < 1:
            raise ValueError("reconstruction_volumes must be >= 1")

    @property
    def downsampling(self) -> int:
        """How much smaller each side of the latent is than the volume."""
        return 2 ** (len(self.ae_channels) - 1)

    def autoencoder_stage(self) -> "LDMParams":
        """The settings the shared training loop runs stage 1 with: the autoencoder's optimiser and steps,
        no EMA, warm-up or time budget (the denoiser gets what is left of that)."""
        return replace(self, lr=self.ae_lr, max_steps=self.ae_max_steps, batch_size=self.ae_batch_size,
                       warmup_steps=0, ema_decay=None, grad_accum=1, clip_grad=None, time_budget_s=None,
                       compile=False)


# the autoencoder's network and its training: what its stage-1 state and every latent depend on
AE_MODEL_FIELDS = ("ae_channels", "ae_latent_channels", "ae_num_res_blocks", "ae_norm_num_groups", "ae_attention",
                   "background_gap")
AE_TRAINING_FIELDS = AE_MODEL_FIELDS + ("ae_lr", "ae_max_steps", "ae_batch_size", "kl_weight", "adv_weight",
                                        "adv_start_step", "disc_channels", "disc_layers", "perceptual_weight",
                                        "perceptual_weights", "autoencoder", "deterministic", "mixed_precision")
LDM_TRAINING_FIELDS = TRAINING_FIELDS + tuple(f for f in AE_TRAINING_FIELDS if f not in TRAINING_FIELDS)
LDM_MODEL_FIELDS = MODEL_FIELDS + tuple(f for f in AE_MODEL_FIELDS if f not in MODEL_FIELDS)
LDM_SAMPLING_FIELDS = SAMPLING_FIELDS + ("reconstruct",)
