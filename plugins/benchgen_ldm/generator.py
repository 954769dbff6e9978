"""The ``ldm`` generator plugin: latent diffusion (Rombach et al. 2022; Pinaya et al. 2022's brain LDM).

Stage 1 trains MONAI's ``AutoencoderKL`` (``autoencoder.py``); stage 2 is the ``ddpm`` plugin's own denoiser,
training loop, samplers, conditioning and checkpoints, run on the autoencoder's latents scaled by
``scale_factor = 1 / std(latents)`` (computed on the training split and recorded). Both stages run in the
ddpm's one training loop, each resumable from its own folder. Sampling draws latents with any of the ddpm
samplers and decodes them; ``reconstruct = true`` returns the autoencoder's validation reconstructions instead.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
from benchgen_ddpm.generator import DDPMGenerator
from benchgen_ddpm.intensity import Volumes, decode
from benchgen_ddpm.loop import run_loop
from benchgen_ddpm.params import DDPMParams
from benchgen_ddpm.precision import autocast
from benchgen_ddpm.telemetry import plot_loss_curve
from safetensors.torch import load_file, save_file

from benchgen.descriptions import read_description
from benchgen.distributed import is_main_process
from benchgen.errors import ConfigError, PluginError
from benchgen.figures import montage
from benchgen.interfaces import FitContext, ProgressFn, SuiteCheck, no_progress
from benchgen.params import params_to_dict
from benchgen_ldm.autoencoder import (
    autoencoder_objective,
    build_autoencoder,
    check_discriminator,
    decode_latents,
    encode_latents,
    latent_shape,
    reconstruction_quality,
)
from benchgen_ldm.params import AE_MODEL_FIELDS, LDM_MODEL_FIELDS, LDM_SAMPLING_FIELDS, LDMParams

AE_FILE, RECON_FILE = "autoencoder.safetensors", "reconstructions.safetensors"


class LDMGenerator(DDPMGenerator):
    """3D latent diffusion: MONAI ``AutoencoderKL`` + a ``DiffusionModelUNet`` on its latents (the ddpm's)."""

    version: ClassVar[str] = "1"
    family: ClassVar[str] = "ldm"
    Params: ClassVar[type] = LDMParams
    sampling_params: ClassVar[tuple[str, ...]] = LDM_SAMPLING_FIELDS
    tiny_params: ClassVar[dict[str, Any]] = {
        **DDPMGenerator.tiny_params, "channels": [8, 16], "ae_channels": [8, 8], "ae_latent_channels": 2,
        "ae_norm_num_groups": 4, "ae_max_steps": 3, "ae_batch_size": 2, "ae_lr": 1e-3,
    }

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._autoencoder: torch.nn.Module | None = None
        self._scale: float | None = None
        self._reconstructions: torch.Tensor | None = None
        self._ae_info: dict[str, Any] = {}
        self._budget_left: float | None = None

    def check_suite(self, ctx: SuiteCheck) -> None:
        try:
            latent = latent_shape(ctx.shape, self.params)
        except ConfigError as exc:
            raise ConfigError(f"dataset.shape {list(ctx.shape)}: {exc.message.removeprefix('ldm: ')} ({ctx.where})",
                              exc.hint) from None
        super().check_suite(dataclasses.replace(ctx, shape=latent))
        try:
            check_discriminator(ctx.shape, self.params)
        except ConfigError as exc:
            raise ConfigError(f"{ctx.where}.params: {exc.message.removeprefix('ldm: ')}", exc.hint) from None
        if self.params.autoencoder:
            self._stored_autoencoder(Path(self.params.autoencoder), tuple(ctx.shape))
        if self.params.perceptual_weight:
            from benchgen_ldm.autoencoder import perceptual_loss
            perceptual_loss(self.params)

    # ------------------------------------------------------------------------------- stage 1 + latents
    def fit(self, train: Any, ctx: FitContext) -> None:
        latent_shape(train.shape, self.params)  # before any work
        check_discriminator(train.shape, self.params)
        self._ae_info = {}
        super().fit(train, ctx)
        self.train_info["autoencoder"] = self._ae_info
        if (Path(ctx.workdir) / "autoencoder" / "loss.csv").exists():
            plot_loss_curve(Path(ctx.workdir) / "autoencoder" / "loss.csv",
                            Path(ctx.workdir) / "autoencoder" / "loss.png")

    def _denoiser_data(self, x: Volumes, val: Volumes | None, ctx: FitContext,
                       device: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Train (or load) the autoencoder, then hand the denoiser the scaled latents of both splits."""
        p: LDMParams = self.params
        t0 = time.perf_counter()
        if p.autoencoder:
            ae, scale = self._stored_autoencoder(Path(p.autoencoder), tuple(x.shape[2:]))
            self._ae_info = {"source": str(Path(p.autoencoder).resolve())}
        else:
            objective = autoencoder_objective(p, x, ctx.seed)
            result = run_loop(p.autoencoder_stage(), objective, x, val, Path(ctx.workdir) / "autoencoder",
                              seed=ctx.seed, device=device, resume=ctx.resume,
                              progress=None if ctx.quiet else ctx.progress)
            ae = build_autoencoder(p)
            ae.load_state_dict({k.removeprefix("autoencoder."): v for k, v in result.weights.items()
                                if k.startswith("autoencoder.")})
            ae = ae.to(device)
            scale = None
            self._ae_info = {"steps": result.steps, "final_loss": result.final_loss,
                             "final_val_loss": result.final_val_loss, "elapsed_s": round(result.elapsed_s, 2)}
        with autocast(device, p.mixed_precision):  # latents and reconstructions in the training precision
            z = encode_latents(ae, x, p.ae_batch_size, device)
            held = val if val is not None and len(val) else x  # validation scans; the training ones without any
            recon = decode_latents(ae, encode_latents(ae, held[:p.reconstruction_volumes], p.ae_batch_size, device),
                                   p.background_gap, p.ae_batch_size, device)
            zval = None if val is None else encode_latents(ae, val, p.ae_batch_size, device)
        # MONAI's LDM tutorials: scale the latents to unit variance so the noise schedule fits them
        scale = scale if scale is not None else float(1.0 / z.std())
        real = decode(held[:p.reconstruction_volumes], p.background_gap)
        self._ae_info.update(scale_factor=scale, latent_shape=list(z.shape[1:]),
                             reconstruction={**reconstruction_quality(real, recon),
                                             "of": "validation" if held is val else "training"})
        self._autoencoder, self._scale, self._reconstructions = ae.cpu().eval(), scale, recon
        if is_main_process():
            montage([("scan", real[:, 0].numpy()), ("reconstruction", recon[:, 0].numpy())],
                    Path(ctx.workdir) / "reconstructions.png", n=3,
                    title=f"ldm autoencoder: PSNR {self._ae_info['reconstruction']['psnr']:.2f} dB, "
                          f"SSIM {self._ae_info['reconstruction']['ssim']:.3f}")
        if p.time_budget_s is not None:  # the two stages share one budget
            self._budget_left = max(1.0, p.time_budget_s - (time.perf_counter() - t0))
        return z * scale, None if zval is None else zval * scale

    def _denoiser_params(self) -> DDPMParams:
        p = self.params
        return p if self._budget_left is None else dataclasses.replace(p, time_budget_s=self._budget_left)

    def _denoiser_workdir(self, workdir: Path) -> Path:
        return workdir / "diffusion"

    def _denoiser_channels(self) -> int:
        return int(self.params.ae_latent_channels)

    def estimate_flops(self, shape: tuple[int, int, int], n_train: int, n_samples: int) -> float | None:
        return None  # the autoencoder and the latent shape are not modelled: no estimate rather than a wrong one

    def _sample_shape(self) -> tuple[int, int, int]:
        assert self._shape is not None
        return latent_shape(self._shape, self.params)

    def _finish(self) -> Any:
        ae, scale, p = self._autoencoder, self._scale, self.params
        assert ae is not None and scale is not None
        device = next(iter(self._model.parameters())).device if self._model is not None else "cpu"
        return lambda z: decode_latents(ae.to(device), z / scale, p.background_gap, p.sample_batch_size, device)

    # ------------------------------------------------------------------------------------- sampling
    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        if self.params.reconstruct:
            return self._reconstructed(n)
        return super().sample(n, seed, progress)

    def conditions(self) -> tuple[str, ...]:
        return () if self.params.reconstruct else super().conditions()

    def _reconstructed(self, n: int) -> torch.Tensor:
        """The stored reconstructions, cycled to `n` (repeats when the validation split is smaller)."""
        if self._reconstructions is None:
            raise PluginError("ldm: sample() needs a fitted or loaded model", "call fit() or load() first")
        idx = torch.arange(n) % len(self._reconstructions)
        return self._reconstructions[idx].clone()

    def sampler_info(self) -> dict[str, Any]:
        if self.params.reconstruct:
            return {"sampler": "reconstruct", "reconstruction": self._ae_info.get("reconstruction", {})}
        info = super().sampler_info()
        info["latent"] = {k: self._ae_info.get(k) for k in ("scale_factor", "latent_shape", "reconstruction")}
        if "steps" in self._ae_info:  # a reused autoencoder names its source instead
            info["latent"]["autoencoder_steps"] = int(self._ae_info["steps"])
        return info

    # ------------------------------------------------------------------------------------ save/load
    def model_config(self) -> dict[str, Any]:
        d = params_to_dict(self.params)
        return {k: d[k] for k in LDM_MODEL_FIELDS if k in d}

    def save(self, folder: Path) -> None:
        super().save(folder)
        if not is_main_process():
            return
        assert self._autoencoder is not None and self._reconstructions is not None
        folder = Path(folder)
        save_file({k: v.contiguous() for k, v in self._autoencoder.state_dict().items()}, str(folder / AE_FILE))
        save_file({"data": self._reconstructions.contiguous()}, str(folder / RECON_FILE))
        if self._workdir is not None:  # the pictures of stage 1, beside the denoiser's loss curve
            stage1 = self._workdir.parent
            for src, dst in ((stage1 / "reconstructions.png", "reconstructions.png"),
                             (stage1 / "autoencoder" / "loss.png", "autoencoder-loss.png")):
                if src.exists():
                    shutil.copyfile(src, folder / dst)

    def load(self, folder: Path) -> None:
        folder = Path(folder)
        for name in (AE_FILE, RECON_FILE):
            if not (folder / name).is_file():
                raise ConfigError(f"ldm: {folder} has no {name}: not an ldm checkpoint, or an incomplete one",
                                  "train it again (benchgen run refits a missing checkpoint)")
        meta = read_description(folder / "ddpm.json", what="ldm checkpoint description", folder_kind="ldm checkpoint",
                                hint="train it again (benchgen run refits a missing checkpoint)")
        self._ae_info = dict(meta.get("training", {}).get("autoencoder", {}))
        self._scale = float(self._ae_info["scale_factor"])
        self._autoencoder = self._load_autoencoder(folder)
        self._reconstructions = load_file(str(folder / RECON_FILE))["data"]
        super().load(folder)

    def _load_autoencoder(self, folder: Path) -> torch.nn.Module:
        ae = build_autoencoder(self.params)
        try:
            ae.load_state_dict(load_file(str(folder / AE_FILE)))
        except RuntimeError:
            raise ConfigError(f"ldm: {folder / AE_FILE} does not fit the autoencoder these params describe",
                              "use the ae_* params it was trained with, or train again") from None
        return ae.eval()

    def _stored_autoencoder(self, folder: Path, shape: tuple[int, ...]) -> tuple[torch.nn.Module, float]:
        """The autoencoder and latent scale of another ldm checkpoint, after checking it fits this one."""
        meta_file = folder / "ddpm.json"
        if not (folder / AE_FILE).is_file() or not meta_file.is_file():
            raise ConfigError(f"ldm: autoencoder = {folder}: not an ldm checkpoint folder (no {AE_FILE} or ddpm.json)",
                              "give the folder of a trained ldm checkpoint")
        meta = read_description(meta_file, what="ldm checkpoint description",
                                hint="give the folder of a trained ldm checkpoint")
        if tuple(meta.get("shape", ())) != tuple(shape):
            raise ConfigError(f"ldm: autoencoder = {folder} was trained on volumes of shape {tuple(meta.get('shape', ()))}, "
                              f"this dataset's are {tuple(shape)}", "use an autoencoder trained at this shape")
        stored = meta.get("model", {})
        ours = self.model_config()
        diff = [k for k in AE_MODEL_FIELDS if k in stored and stored[k] != ours.get(k)]
        if diff:
            raise ConfigError(f"ldm: autoencoder = {folder} has other autoencoder settings ({', '.join(diff)})",
                              "copy its ae_* params")
        return self._load_autoencoder(folder), float(meta["training"]["autoencoder"]["scale_factor"])
