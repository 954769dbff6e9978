"""The ``finetune`` generator plugin: a DDPM that starts from a fitted parent's weights (transfer learning).

The reference study's next step: train on many healthy scans, then adapt to the few scans of a rare
disease. The parent is a ``ddpm`` (or ``finetune``) checkpoint; its folder arrives as ``FitContext.parent``
(the runner fits a suite's ``[generators.X.pretrain]`` first, or takes ``parent = "folder"``). The
adaptation is the ddpm training loop itself with other weights to start from and, optionally, the
encoder (``conv_in`` + ``down_blocks``) or the encoder and middle block frozen. A conditional parent
learns the training split's new classes: their class embeddings start at the parent's null (unconditional)
embedding, so a new class starts out as the parent's unconditional model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch

from benchgen.checkpoint import GENERATOR_FILE, checkpoint_sha256, generator_config
from benchgen.errors import ConfigError, DataError
from benchgen.hashing import fingerprint
from benchgen.interfaces import FitContext
from benchgen.params import params_to_dict, parse_params
from benchgen.volumes import Cohort
from benchgen_ddpm.checkpoint import config_mismatch, load_weights
from benchgen_ddpm.conditioning import Conditioner, FitConditions, reported_as, scan_rows
from benchgen_ddpm.generator import TRAIN_HINT, DDPMGenerator
from benchgen_ddpm.objective import Start
from benchgen_ddpm.params import MODEL_FIELDS, DDPMParams

# parameter-name prefixes of MONAI's DiffusionModelUNet that each `freeze` setting keeps at the parent's values
FROZEN = {"none": (), "down": ("conv_in.", "down_blocks."),
          "down+middle": ("conv_in.", "down_blocks.", "middle_block.")}


@dataclass(frozen=True)
class FinetuneParams(DDPMParams):
    """The ddpm settings (the network's must equal the parent's; a suite's `pretrain` or `parent` supplies
    them as defaults) and which part of the network stays frozen."""

    freeze: Literal["none", "down", "down+middle"] = "none"


def _model_fields(recorded: dict[str, Any]) -> dict[str, Any]:
    """Every network field, those a record leaves out (``added_later`` ones at their default) at the default."""
    defaults = DDPMParams()
    full = {k: getattr(defaults, k) for k in MODEL_FIELDS}
    full = {k: list(v) if isinstance(v, tuple) else v for k, v in full.items()}
    return {**full, **recorded}


def _extend_classes(parent: Conditioner, train: Cohort) -> tuple[Conditioner, list[str]]:
    """The parent's conditioner with the training split's classes it lacks appended (their indices follow the
    parent's; the null class stays last), and those new classes."""
    if "condition" not in parent.condition_on:
        return parent, []
    with reported_as(DataError, TRAIN_HINT):
        seen = Conditioner.learn(("condition",), scan_rows(train)).classes
    new = [c for c in seen if c not in parent.classes]
    return Conditioner(parent.condition_on, (*parent.classes, *new), parent.age_mean, parent.age_sd), new


def _grown_embedding(weights: dict[str, torch.Tensor], n_new: int) -> dict[str, torch.Tensor]:
    """`weights` with `n_new` class-embedding rows inserted before the null row, each a copy of it."""
    if not n_new:
        return weights
    table = weights["class_embedding.weight"]
    null = table[-1:]
    return {**weights, "class_embedding.weight": torch.cat([table[:-1], null.repeat(n_new, 1), null])}


class FinetuneGenerator(DDPMGenerator):
    """A ddpm adapted from a parent checkpoint; samples, saves and loads exactly like ``ddpm``."""

    version: ClassVar[str] = "1"
    Params: ClassVar[type] = FinetuneParams
    parent_plugins: ClassVar[tuple[str, ...]] = ("ddpm", "finetune")
    # conditional: the contract checks then cover a new class learned on top of a one-class parent
    tiny_params: ClassVar[dict[str, Any]] = {
        **{k: v for k, v in DDPMGenerator.tiny_params.items() if k != "condition_on"},
        "condition_on": ["condition"], "freeze": "down", "max_steps": 2,
    }

    def __init__(self, params: Any = None):
        super().__init__(params)
        self.parent: dict[str, Any] = {}  # the parent's record: folder name, plugin, config hash, sha256

    @classmethod
    def tiny_parent(cls, folder: Path, train: Cohort, val: Cohort | None) -> Path:
        """A 2-step conditional ddpm of `tiny_params`' network, fitted on the first condition's scans only."""
        from benchgen.conditions import of_condition

        fields = {k: v for k, v in cls.tiny_params.items() if k != "freeze"}
        parent = DDPMGenerator(parse_params(DDPMParams, fields, "tiny parent params"))
        first = of_condition(train, train.metadata[0]["condition"])
        assert first is not None
        folder.mkdir(parents=True, exist_ok=True)
        parent.fit(first, FitContext(workdir=folder / "work", quiet=True))
        parent.save(folder)
        (folder / GENERATOR_FILE).write_text(json.dumps({"plugin": "ddpm", "version": parent.version,
                                                      "params": params_to_dict(parent.params)}))
        return folder

    # ------------------------------------------------------------------------------------ fitting
    def _fit_inputs(self, train: Cohort, ctx: FitContext) -> tuple[FitConditions | None, Start | None]:
        p: FinetuneParams = self.params
        folder = self._parent_folder(ctx)
        identity = self._parent_identity(folder)  # its generator.json, read once
        weights, meta = load_weights(folder)
        self._check_parent(folder, identity["plugin"], meta, train.shape)
        cond: FitConditions | None = None
        new: list[str] = []
        if p.condition_on:
            parent_cond = Conditioner.from_dict(meta["conditioning"], str(folder / "ddpm.json"))
            conditioner, new = _extend_classes(parent_cond, train)
            weights = _grown_embedding(weights, len(new))
            with reported_as(DataError, TRAIN_HINT):
                val = None if ctx.val is None else conditioner.encode(scan_rows(ctx.val, "validation"))
                cond = FitConditions(conditioner, conditioner.encode(scan_rows(train)), val)
        sha = checkpoint_sha256(folder)
        self.parent = {**identity, "sha256": sha, "freeze": p.freeze, "new_classes": new}
        return cond, Start(weights, FROZEN[p.freeze], sha)

    def _parent_folder(self, ctx: FitContext) -> Path:
        if ctx.parent is None:
            raise ConfigError("finetune: no parent checkpoint to start from",
                              "give its table parent = \"<checkpoint folder>\" or a [generators.LABEL.pretrain] table")
        folder = Path(ctx.parent)
        if not (folder / "ddpm.json").is_file():
            raise ConfigError(f"finetune: parent {folder} is not a ddpm checkpoint (no ddpm.json)",
                              "pass a folder that `benchgen train` wrote for a ddpm or finetune generator")
        return folder

    @staticmethod
    def _parent_identity(folder: Path) -> dict[str, Any]:
        """The parent's folder name, plugin and config hash (from its generator.json)."""
        try:
            config = generator_config(folder)
        except ConfigError as exc:
            raise ConfigError(f"finetune: parent {exc.message}", exc.hint) from None
        return {"checkpoint": folder.name, "plugin": config["plugin"], "config_hash": fingerprint(config)}

    def _check_parent(self, folder: Path, plugin: str, meta: dict[str, Any], shape: tuple[int, ...]) -> None:
        """One line for a parent of another shape or network than this config (its model fields)."""
        if plugin not in self.parent_plugins:
            raise ConfigError(f"finetune: parent {folder} is a '{plugin}' checkpoint",
                              f"finetune adapts {' or '.join(self.parent_plugins)} checkpoints")
        stored = tuple(int(s) for s in meta.get("shape", ()))
        if stored != tuple(int(s) for s in shape):
            raise ConfigError(f"finetune: parent {folder} was trained on volumes of shape {list(stored)}, the "
                              f"training split's are {list(shape)}",
                              "use a parent of the suite's dataset.shape, or change the shape")
        parent_model, mine = _model_fields(meta.get("model", {})), _model_fields(self.model_config())
        diff = config_mismatch(parent_model, mine)
        if diff:
            detail = "; ".join(f"{k}: parent {parent_model.get(k)!r}, finetune {mine.get(k)!r}" for k in diff[:3])
            raise ConfigError(f"finetune: parent {folder} is another network ({detail})",
                              "drop those params from the finetune table (they default to the parent's)")

    # --------------------------------------------------------------------------- records
    def sampler_info(self) -> dict[str, Any]:
        return {**super().sampler_info(), **({"parent": dict(self.parent)} if self.parent else {})}

    def _lineage(self) -> dict[str, Any]:
        return {"parent": dict(self.parent)} if self.parent else {}

    def _restore_lineage(self, meta: dict[str, Any]) -> None:
        self.parent = dict(meta.get("parent", {}))
