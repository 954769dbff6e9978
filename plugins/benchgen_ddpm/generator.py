"""The ``ddpm`` generator plugin: the reference study's 3D DDPM (MONAI) trained with Accelerate."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import torch

from benchgen.bounds import check_geometry
from benchgen.distributed import is_main_process
from benchgen.errors import ConfigError, DataError, PluginError
from benchgen.interfaces import FitContext, Generator, ProgressFn, SuiteCheck, no_progress
from benchgen.params import params_to_dict
from benchgen.volumes import Cohort
from benchgen_ddpm.checkpoint import config_mismatch, load_weights, save_weights
from benchgen_ddpm.conditioning import Condition, Conditioner, FitConditions, reported_as, scan_rows
from benchgen_ddpm.intensity import Volumes, encoded
from benchgen_ddpm.loop import TrainResult, run_loop
from benchgen_ddpm.network import build_unet, check_shape, resolve_device
from benchgen_ddpm.objective import Start, denoiser_objective
from benchgen_ddpm.params import MODEL_FIELDS, SAMPLING_FIELDS, DDPMParams
from benchgen_ddpm.precision import precision_name
from benchgen_ddpm.sampling import sample_volumes
from benchgen_ddpm.schedule import sampling_scheduler
from benchgen_ddpm.telemetry import check_trackers, plot_loss_curve


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """torch's CPU thread count for the duration of a fit or sample (it is process-global)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _mismatch(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> str:
    """What differs between a network's state dict and stored weights, in a few words."""
    want = model.state_dict()
    missing = [k for k in want if k not in weights]
    extra = [k for k in weights if k not in want]
    shapes = [k for k in want if k in weights and tuple(want[k].shape) != tuple(weights[k].shape)]
    parts = [f"{len(v)} {what}" for what, v in (("missing", missing), ("unexpected", extra),
                                                 ("with other shapes", shapes)) if v]
    if shapes:
        k = shapes[0]
        parts.append(f"e.g. {k}: stored {tuple(weights[k].shape)}, network {tuple(want[k].shape)}")
    elif missing or extra:
        parts.append(f"e.g. {(missing or extra)[0]}")
    return ", ".join(parts) or "tensors differ"


TRAIN_HINT = "fill in that column of the participants / manifest table, or drop the key from condition_on"
SAMPLE_HINT = ("give every row the keys of conditions(), with values the model was trained on "
               "(sampler_info() lists its classes)")


def _fit_conditions(p: DDPMParams, train: Cohort, val: Cohort | None) -> FitConditions | None:
    """The conditioner learned from `train` and both splits' conditions; a scan missing a value the model
    conditions on is a DataError, raised before any training."""
    if not p.condition_on:
        return None
    with reported_as(DataError, TRAIN_HINT):
        conditioner = Conditioner.learn(p.condition_on, scan_rows(train))
        val_cond = None if val is None else conditioner.encode(scan_rows(val, "validation"))
        return FitConditions(conditioner, conditioner.encode(scan_rows(train)), val_cond)


class DDPMGenerator(Generator):
    """3D denoising diffusion model: MONAI ``DiffusionModelUNet`` + ``DDPMScheduler`` (or rectified flow);
    samples with DDPM (all steps), DDIM or PNDM (N steps), or rflow (N steps, rectified-flow models).
    Volumes are mapped [0, 1] -> [-1, 1] for training and back."""

    version: ClassVar[str] = "1"
    family: ClassVar[str] = "ddpm"  # what its messages, progress lines and trackers are prefixed with
    Params: ClassVar[type] = DDPMParams
    sampling_params: ClassVar[tuple[str, ...]] = SAMPLING_FIELDS
    # conditional with guidance, so the contract checks cover conditional sampling (tests/ddpm: unconditional)
    tiny_params: ClassVar[dict[str, Any]] = {
        "channels": [8, 16], "attention_levels": [False, True], "num_head_channels": [0, 16],
        "num_res_blocks": 1, "norm_num_groups": 8, "max_steps": 3, "batch_size": 2, "val_every": 0,
        "sampler": "ddim", "inference_steps": 3, "lr": 1e-3,
        "condition_on": ["condition", "age", "sex"], "condition_dropout": 0.2, "guidance_scale": 2.0,
    }

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._model: torch.nn.Module | None = None
        self._conditioner: Conditioner | None = None
        self._shape: tuple[int, int, int] | None = None
        self.affine: np.ndarray | None = None  # the training cohort's affine, for NIfTI output
        self.train_info: dict[str, Any] = {}
        self._workdir: Path | None = None

    def check_suite(self, ctx: SuiteCheck) -> None:
        """What `fit` would refuse, at validation: a shape the UNet cannot halve, cuda or fp16 without CUDA."""
        p: DDPMParams = self.params
        try:
            check_shape(ctx.shape, p)
        except ConfigError as exc:
            raise ConfigError(f"dataset.shape {list(ctx.shape)}: {exc.message.removeprefix('ddpm: ')} ({ctx.where})",
                              f"change dataset.shape or {ctx.where}.params.channels") from None
        try:
            resolve_device(p, None if ctx.device == "auto" else ctx.device)
        except ConfigError as exc:
            key = "mixed_precision" if "mixed_precision" in exc.message else "device"
            raise ConfigError(f"{ctx.where}.params.{key}: {exc.message.removeprefix('ddpm: ')}", exc.hint) from None
        self._check_network(ctx.where)

    def _check_network(self, where: str) -> None:
        """The network built on the meta device (no memory, no weights): what MONAI refuses to construct is a
        validate line naming the key, not an error in the middle of a fit."""
        p = self._denoiser_params()
        if p.attention_levels and not p.attention_levels[-1]:
            raise ConfigError(f"{where}.params.attention_levels: the last level must attend (MONAI's middle "
                              f"block always does, with num_head_channels[-1] heads), got "
                              f"{list(p.attention_levels)}", "set the last attention_levels entry to true and "
                              "num_head_channels[-1] to a divisor of channels[-1]")
        stand_in = Conditioner(tuple(p.condition_on), ("a", "b")) if p.condition_on else None  # classes: data's
        try:
            with torch.device("meta"):
                build_unet(p, stand_in, self._denoiser_channels())
        except Exception as exc:  # MONAI raises many types for impossible configs
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ConfigError(f"{where}.params: MONAI cannot build this network ({type(exc).__name__}: {reason})",
                              "check channels, attention_levels, num_head_channels and norm_num_groups") from None

    # ------------------------------------------------------------------------------------ fitting
    def fit(self, train: Cohort, ctx: FitContext) -> None:
        p: DDPMParams = self.params
        # every configuration error before any work
        check_shape(train.shape, p)
        device = resolve_device(p, self.device)
        trackers = check_trackers(p.log_with)
        if ctx.val is not None and ctx.val.shape != train.shape:
            raise ConfigError(f"ddpm: validation shape {ctx.val.shape} differs from training shape {train.shape}")
        cond, start = self._fit_inputs(train, ctx)
        workdir = Path(ctx.workdir)
        val = None if ctx.val is None else encoded(ctx.val, p.background_gap)
        with _threads(p.num_threads):
            x, val = self._denoiser_data(encoded(train, p.background_gap), val, ctx, device)
            p_train = self._denoiser_params()
            objective = denoiser_objective(p_train, x, ctx.seed, cond=cond, init=start, name=self.family)
            result: TrainResult = run_loop(
                p_train, objective, x, val, self._denoiser_workdir(workdir), seed=ctx.seed, device=device,
                resume=ctx.resume, progress=None if ctx.quiet else ctx.progress, trackers=trackers)
        self._set_model(result.weights, train.shape, train.affine, None if cond is None else cond.conditioner)
        self.train_info = {k: getattr(result, k) for k in (
            "steps", "total_steps", "epochs", "final_loss", "final_val_loss", "elapsed_s", "stopped_by_budget",
            "resumed_from")}
        self.train_info["device"] = device
        self._workdir = self._denoiser_workdir(workdir)
        if is_main_process() and (self._workdir / "loss.csv").exists():
            plot_loss_curve(self._workdir / "loss.csv", self._workdir / "loss.png")

    # hooks of the ldm plugin, which trains this denoiser on an autoencoder's latents
    def _denoiser_data(self, x: Volumes, val: Volumes | None, ctx: FitContext,
                       device: str) -> tuple[Volumes, Volumes | None]:
        """What the denoiser trains on: the encoded volumes (an ldm: their latents)."""
        return x, val

    def _denoiser_params(self) -> DDPMParams:
        """The settings of the denoiser's training run (an ldm's time budget is shared by its two stages)."""
        return self.params

    def _denoiser_workdir(self, workdir: Path) -> Path:
        return workdir

    def _denoiser_channels(self) -> int:
        return 1

    def _finish(self) -> Any:
        """How a sampled batch becomes volumes in [0, 1]: None = the intensity map of ``intensity.decode``."""
        return None

    def _sample_shape(self) -> tuple[int, int, int]:
        assert self._shape is not None
        return self._shape

    def _fit_inputs(self, train: Cohort, ctx: FitContext) -> tuple[FitConditions | None, Start | None]:
        """The conditions to train with and where training starts (None: MONAI's initialisation); the
        ``finetune`` plugin starts from its parent instead."""
        return _fit_conditions(self.params, train, ctx.val), None

    def _set_model(self, weights: dict[str, torch.Tensor], shape: tuple[int, ...], affine: Any,
                   conditioner: Conditioner | None = None) -> None:
        model = build_unet(self.params, conditioner, self._denoiser_channels())
        model.load_state_dict(weights)
        self._model = model.eval()
        self._conditioner = conditioner
        self._shape = tuple(int(s) for s in shape)  # type: ignore[assignment]
        self.affine = np.asarray(affine, dtype=np.float64)

    # ----------------------------------------------------------------------------------- sampling
    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        """`n` volumes; a conditional model draws them with the null condition (its unconditional half)."""
        self._fitted("sample()")
        cond = None if self._conditioner is None else self._conditioner.null(n)
        return self._draw(n, seed, progress, cond, 1.0)  # guiding the null condition away from itself is a no-op

    def conditions(self) -> tuple[str, ...]:
        return tuple(self.params.condition_on)

    def sample_conditional(self, table: list[dict[str, Any]], seed: int,
                           progress: ProgressFn = no_progress) -> torch.Tensor:
        """One volume per row of `table` (its keys beyond condition_on are ignored), guided by guidance_scale."""
        self._fitted("sample_conditional()")
        if self._conditioner is None:
            return super().sample_conditional(table, seed, progress)
        with reported_as(ConfigError, SAMPLE_HINT):
            cond = self._conditioner.encode([(f"sample_conditional row {i}", dict(m)) for i, m in enumerate(table)])
        return self._draw(len(table), seed, progress, cond, self.params.guidance_scale)

    def _fitted(self, what: str) -> None:
        if self._model is None or self._shape is None:
            raise PluginError(f"ddpm: {what} needs a fitted or loaded model", "call fit() or load() first")

    def _draw(self, n: int, seed: int, progress: ProgressFn, cond: Condition | None, guidance: float) -> torch.Tensor:
        assert self._model is not None and self._shape is not None
        if n == 0:
            return torch.zeros((0, 1, *self._shape), dtype=torch.float32)
        with _threads(self.params.num_threads):
            return sample_volumes(self._model, self.params, n, seed, self._sample_shape(),
                                  device=resolve_device(self.params, self.device), progress=progress,
                                  cond=cond, guidance=guidance, channels=self._denoiser_channels(),
                                  finish=self._finish())

    def estimate_flops(self, shape: tuple[int, int, int], n_train: int, n_samples: int) -> float | None:
        """One forward pass counted by torch's FLOP counter on the meta device (no memory, no compute), times
        3 per training volume (forward + backward) and once per network evaluation of sampling."""
        from torch.utils.flop_counter import FlopCounterMode

        p: DDPMParams = self.params
        if p.condition_on:  # the conditioning inputs are not modelled here: no estimate rather than a wrong one
            return None
        with torch.device("meta"):
            net = build_unet(p)
            with FlopCounterMode(display=False) as counter:
                net(torch.zeros(1, 1, *shape), torch.zeros(1, dtype=torch.long))
        forward = float(counter.get_total_flops())
        trained = p.max_steps * p.batch_size if p.max_steps is not None else p.epochs * n_train
        return forward * (3 * trained + n_samples * len(sampling_scheduler(p).timesteps))

    def sampler_info(self) -> dict[str, Any]:
        p: DDPMParams = self.params
        info: dict[str, Any] = {"sampler": p.sampler, "inference_steps": p.inference_steps,
                                "eta": p.eta if p.sampler == "ddim" else 0.0, "prediction_type": p.prediction_type,
                                "precision": precision_name(p.mixed_precision)}  # of training and sampling
        evaluations = len(sampling_scheduler(p).timesteps)
        if evaluations != p.inference_steps:  # PNDM's warm-up: the UNet runs more often than it has steps
            info["network_evaluations"] = evaluations
        if self._conditioner is not None:  # only then: unconditional records stay as they were
            info.update(condition_on=list(p.condition_on), guidance_scale=p.guidance_scale,
                        classes=list(self._conditioner.classes))
        # the optimizer steps the sampled weights had: with `time_budget_s` they depend on the machine's speed
        if "steps" in self.train_info:
            info["trained_steps"] = int(self.train_info["steps"])
        return info

    # ---------------------------------------------------------------------------------- save/load
    def model_config(self) -> dict[str, Any]:
        d = params_to_dict(self.params)
        return {k: d[k] for k in MODEL_FIELDS if k in d}  # `added_later` fields at their default are not in d

    def save(self, folder: Path) -> None:
        if self._model is None or self._shape is None:
            raise PluginError("ddpm: save() needs a fitted model", "call fit() first")
        if not is_main_process():
            return
        folder = Path(folder)
        weights = {k: v for k, v in self._model.state_dict().items()}
        save_weights(folder, weights, {
            "model": self.model_config(), "params": params_to_dict(self.params), "shape": list(self._shape),
            "affine": np.asarray(self.affine).tolist(), "training": self.train_info, "version": self.version,
            "weights": "ema" if self.params.ema_decay is not None else "model",
            **({} if self._conditioner is None else {"conditioning": self._conditioner.to_dict()}),
            **self._lineage()})
        if self._workdir is not None:
            for name in ("loss.csv", "loss.png"):
                if (self._workdir / name).exists():
                    shutil.copyfile(self._workdir / name, folder / name)

    def load(self, folder: Path) -> None:
        weights, meta = load_weights(Path(folder))
        check_geometry(meta, Path(folder) / "ddpm.json")  # what sampling allocates and writes into NIfTI headers
        # a field a checkpoint predates holds its default (what that checkpoint was trained with)
        defaults = params_to_dict(DDPMParams())
        stored = {**{k: defaults[k] for k in MODEL_FIELDS if k in defaults}, **meta.get("model", {})}
        diff = config_mismatch(stored, self.model_config())
        if diff:
            detail = "; ".join(f"{k}: checkpoint {stored.get(k)!r} vs config {self.model_config().get(k)!r}"
                               for k in diff[:3])
            raise ConfigError(f"ddpm: checkpoint {folder} was trained with another config ({detail})",
                              "use the params it was trained with, or train again")
        conditioner = self._stored_conditioner(meta, Path(folder))
        try:
            self._set_model(weights, tuple(meta["shape"]), meta["affine"], conditioner)
        except RuntimeError:  # torch's many-line state-dict report -> one line naming the files
            net = build_unet(self.params, conditioner, self._denoiser_channels())
            raise ConfigError(f"ddpm: {Path(folder) / 'weights.safetensors'} does not fit the network that "
                              f"{Path(folder) / 'ddpm.json'} describes ({_mismatch(net, weights)})",
                              "the JSON files were edited or come from another checkpoint: restore them, "
                              "or train again") from None
        self.train_info = dict(meta.get("training", {}))
        self._restore_lineage(meta)

    def _lineage(self) -> dict[str, Any]:
        """Where the weights started, for ``ddpm.json`` (a fine-tuned model names its parent); {} from scratch."""
        return {}

    def _restore_lineage(self, meta: dict[str, Any]) -> None:
        """Read back what :meth:`_lineage` wrote."""

    def _stored_conditioner(self, meta: dict[str, Any], folder: Path) -> Conditioner | None:
        """The classes and age stats a conditional checkpoint was trained with (None when unconditional)."""
        if not self.params.condition_on:
            return None
        if "conditioning" not in meta:
            raise ConfigError(f"ddpm: {folder / 'ddpm.json'} records no conditioning, but condition_on is "
                              f"{list(self.params.condition_on)}", "restore the file, or train again")
        return Conditioner.from_dict(meta["conditioning"], str(folder / "ddpm.json"))
