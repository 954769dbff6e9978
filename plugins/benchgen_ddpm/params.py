"""Every setting of the DDPM plugin in one frozen dataclass; defaults are the reference study's model.

The defaults (the `paper` profile) are the published configuration: MONAI ``DiffusionModelUNet`` with
channels (128, 128, 256), attention at the deepest level with 256 head channels, 2 residual blocks,
``DDPMScheduler(1000, "scaled_linear_beta", 0.0005, 0.0195)``, epsilon (noise) MSE, Adam 5e-5,
400 epochs, 1000-step DDPM sampling. Settings the paper does not state are marked "(unstated)".
The suite's `quick` profile overrides them for a 2-core CPU (see docs/ddpm.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from benchgen.params import added_later

Covariate = Literal["condition", "age", "sex"]


@dataclass(frozen=True)
class DDPMParams:
    # ------------------------------------------------------------------ network (MONAI DiffusionModelUNet)
    channels: tuple[int, ...] = (128, 128, 256)
    attention_levels: tuple[bool, ...] = (False, False, True)
    num_head_channels: tuple[int, ...] = (0, 0, 256)
    num_res_blocks: int = 2
    norm_num_groups: int = 32  # MONAI's default; the paper does not change it
    use_flash_attention: bool = True  # PyTorch SDPA inside MONAI's attention blocks (same maths, faster)
    # ------------------------------------------------------------------------------ noise schedule
    num_train_timesteps: int = 1000
    # "rflow" = rectified flow (MONAI's RFlowScheduler): x_t = (1 - t/T) x0 + (t/T) noise, the UNet learns the
    # velocity x0 - noise, and samples with sampler = "rflow"; the betas are then unused. The others are DDPM betas.
    schedule: Literal["scaled_linear_beta", "linear_beta", "cosine", "rflow"] = "scaled_linear_beta"
    beta_start: float = 0.0005
    beta_end: float = 0.0195
    prediction_type: Literal["epsilon", "v_prediction"] = "epsilon"
    clip_sample: bool = True  # clamp predicted x0 to [-1, 1] while sampling (MONAI's default)
    # Rescale the betas so that the last step is pure noise (Lin et al. 2023) and let DDIM start there
    # ("trailing" steps): training then sees what sampling starts from. Needs v-prediction. Off = the paper.
    zero_terminal_snr: bool = False
    # Encode the exact-zero background at -1 and tissue in [-1 + gap, 1] (benchgen_ddpm.intensity): background
    # errors under the gap decode to exactly 0. 0 = the plain affine map of the paper.
    background_gap: float = 0.0
    # ------------------------------------------------------------------------------ optimisation
    lr: float = 5e-5
    warmup_steps: int = 0  # linear learning-rate warm-up, in optimizer steps
    epochs: float = 400.0
    max_steps: int | None = None  # if set, train exactly this many optimizer steps instead of `epochs`
    batch_size: int = 2  # per process (unstated in the paper; MONAI's 3D DDPM tutorial value)
    grad_accum: int = 1
    clip_grad: float | None = None  # max gradient L2 norm; None = no clipping (unstated: none)
    ema_decay: float | None = None  # EMA of the weights, used for sampling when set (unstated: none)
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"  # unstated in the paper: full precision
    compile: bool = False  # torch.compile the UNet
    val_every: int = 10  # validation loss every N epochs (0 = never)
    checkpoint_every: int = 500  # resumable training state every N optimizer steps (and at the end)
    time_budget_s: float | None = None  # stop training after this many seconds of wall time
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_threads: int | None = None  # torch CPU threads while fitting and sampling (None = torch's default)
    deterministic: bool = True  # seeded everything + torch deterministic algorithms (where available)
    log_with: tuple[str, ...] = ()  # Accelerate trackers: "tensorboard", "mlflow", "wandb", ... or "all"
    # ------------------------------------------------------------------------------ sampling
    # ddpm: all steps; ddim: N steps, eta; pndm: N steps (+ 9 Runge-Kutta warm-up evaluations), for DDPM-trained
    # models; rflow: N Euler steps, the one sampler of a schedule = "rflow" model (docs/ddpm.md, "Fast samplers")
    sampler: Literal["ddpm", "ddim", "pndm", "rflow"] = "ddpm"
    inference_steps: int = 1000
    eta: float = 0.0  # DDIM stochasticity (0 = deterministic DDIM); ignored by the other samplers
    sample_batch_size: int = 8
    # ------------------------------------------------------------------------------ conditioning (docs/ddpm.md)
    # Added later: left out of the recorded config at their defaults, so unconditional fingerprints stay.
    # The class enters through MONAI's class embedding, age and sex through cross-attention.
    condition_on: tuple[Covariate, ...] = added_later(())
    # P(null condition) per training volume: it trains the unconditional model that guidance needs
    condition_dropout: float = added_later(0.0)
    # classifier-free guidance on the model output: uncond + s * (cond - uncond); 1 = plain conditional
    guidance_scale: float = added_later(1.0)

    def __post_init__(self) -> None:
        n = len(self.channels)
        if n < 1:
            raise ValueError("channels: give at least one level")
        if len(self.attention_levels) != n or len(self.num_head_channels) != n:
            raise ValueError(f"channels, attention_levels and num_head_channels must have the same length "
                             f"(got {n}, {len(self.attention_levels)}, {len(self.num_head_channels)})")
        if any(c <= 0 for c in self.channels):
            raise ValueError(f"channels must be positive, got {list(self.channels)}")
        if self.norm_num_groups <= 0:
            raise ValueError("norm_num_groups must be positive")
        bad = [c for c in self.channels if c % self.norm_num_groups]
        if bad:
            raise ValueError(f"channels {bad} are not divisible by norm_num_groups={self.norm_num_groups}")
        for lvl, (att, c, h) in enumerate(zip(self.attention_levels, self.channels, self.num_head_channels)):
            if att and (h <= 0 or c % h):
                raise ValueError(f"num_head_channels[{lvl}]={h} must be > 0 and divide channels[{lvl}]={c} "
                                 f"at a level with attention")
        if self.num_res_blocks < 1:
            raise ValueError("num_res_blocks must be >= 1")
        if self.num_train_timesteps < 2:
            raise ValueError("num_train_timesteps must be >= 2")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if self.warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0")
        if self.epochs <= 0:
            raise ValueError("epochs must be > 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be >= 1 (or omitted to train for `epochs`)")
        if self.batch_size < 1 or self.grad_accum < 1 or self.sample_batch_size < 1:
            raise ValueError("batch_size, grad_accum and sample_batch_size must be >= 1")
        if self.clip_grad is not None and self.clip_grad <= 0:
            raise ValueError("clip_grad must be > 0 (or omitted for no clipping)")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError("num_threads must be >= 1 (or omitted for torch's default)")
        if self.val_every < 0 or self.checkpoint_every < 1:
            raise ValueError("val_every must be >= 0 and checkpoint_every >= 1")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError("time_budget_s must be > 0 (or omitted for no limit)")
        if not 1 <= self.inference_steps <= self.num_train_timesteps:
            raise ValueError(f"inference_steps must be in [1, num_train_timesteps={self.num_train_timesteps}], "
                             f"got {self.inference_steps}")
        if self.sampler == "ddpm" and self.inference_steps != self.num_train_timesteps:
            raise ValueError(f"the ddpm sampler runs all num_train_timesteps={self.num_train_timesteps} steps; "
                             f"got inference_steps={self.inference_steps} (use sampler = \"ddim\" for fewer)")
        self._check_sampler()
        if self.zero_terminal_snr and self.prediction_type != "v_prediction":
            raise ValueError("zero_terminal_snr needs prediction_type = \"v_prediction\" (epsilon is undefined "
                             "at zero signal)")
        if not 0 <= self.background_gap < 1:
            raise ValueError(f"background_gap must be in [0, 1), got {self.background_gap}")
        if not 0 <= self.eta <= 1:
            raise ValueError(f"eta must be in [0, 1], got {self.eta}")
        self._check_conditioning()

    def _check_sampler(self) -> None:
        """Which sampler fits which training, and the step counts each scheduler can do."""
        rflow, steps, t = self.schedule == "rflow", self.inference_steps, self.num_train_timesteps
        if rflow and self.sampler != "rflow":
            raise ValueError(f"sampler = \"{self.sampler}\" needs a model trained with a DDPM noise schedule; a "
                             f"schedule = \"rflow\" model samples with sampler = \"rflow\"")
        if self.sampler == "rflow" and not rflow:
            raise ValueError(f"sampler = \"rflow\" needs a model trained with schedule = \"rflow\" (this one has "
                             f"schedule = \"{self.schedule}\"; its fast samplers are ddim and pndm)")
        if rflow and self.prediction_type != "v_prediction":
            raise ValueError("schedule = \"rflow\" needs prediction_type = \"v_prediction\" (MONAI's RFlowScheduler "
                             "learns only the velocity x0 - noise)")
        if rflow and self.zero_terminal_snr:
            raise ValueError("zero_terminal_snr rescales DDPM betas; schedule = \"rflow\" has none (its last step "
                             "is already pure noise)")
        if rflow and t > 2048:
            raise ValueError(f"schedule = \"rflow\" needs num_train_timesteps <= 2048 (MONAI keeps its timesteps "
                             f"in float16), got {t}")
        if self.sampler == "pndm" and not 4 <= steps <= t // 2:
            raise ValueError(f"the pndm sampler needs 4 <= inference_steps <= num_train_timesteps // 2 = {t // 2} "
                             f"(its Runge-Kutta warm-up takes 3 steps and half-steps), got {steps}")

    def _check_conditioning(self) -> None:
        on = list(self.condition_on)
        if len(set(on)) != len(on):
            raise ValueError(f"condition_on lists a key twice: {on}")
        if {"age", "sex"} & set(on) and not any(self.attention_levels):
            raise ValueError("condition_on: age and sex enter through cross-attention, which needs at least one "
                             "attention level (attention_levels has none)")
        if not 0 <= self.condition_dropout < 1:
            raise ValueError(f"condition_dropout must be in [0, 1), got {self.condition_dropout}")
        if self.guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, got {self.guidance_scale}")
        if not on and (self.condition_dropout or self.guidance_scale != 1):
            raise ValueError("condition_dropout and guidance_scale need condition_on (the model is unconditional)")
        if self.guidance_scale != 1 and not self.condition_dropout:
            raise ValueError("guidance_scale != 1 needs condition_dropout > 0: without it the null condition that "
                             "guidance pushes away from is never trained")


# Fields that change what is trained (a checkpoint is only valid for the same values); the sampling
# fields and bookkeeping (progress, trackers, checkpoint interval) are not among them.
TRAINING_FIELDS = (
    "channels", "attention_levels", "num_head_channels", "num_res_blocks", "norm_num_groups",
    "use_flash_attention", "num_train_timesteps", "schedule", "beta_start", "beta_end", "prediction_type",
    "zero_terminal_snr", "background_gap",
    "lr", "warmup_steps", "epochs", "max_steps", "batch_size", "grad_accum", "clip_grad", "ema_decay",
    "mixed_precision", "compile", "deterministic", "time_budget_s", "condition_on", "condition_dropout",
)
# Fields that define the network and its noise schedule: what `load` must agree with.
MODEL_FIELDS = (
    "channels", "attention_levels", "num_head_channels", "num_res_blocks", "norm_num_groups",
    "num_train_timesteps", "schedule", "beta_start", "beta_end", "prediction_type", "zero_terminal_snr",
    "background_gap", "condition_on",
)
# Fields that change only how samples are drawn from a trained model (Generator.sampling_params).
SAMPLING_FIELDS = ("sampler", "inference_steps", "eta", "sample_batch_size", "clip_sample", "guidance_scale")
