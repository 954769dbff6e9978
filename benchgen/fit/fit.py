"""Fitting: one checkpoint folder per (generator config, data, fit seed) under the checkpoint cache.

Fits of the same key take a file lock: a second process waits, then reuses the finished checkpoint. The
folder's format (generator.json, weights checksum) is :mod:`benchgen.checkpoint`; a transfer-learned
generator's parent is resolved before the fit (:mod:`benchgen.fit.parent`) and handed in as a folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchgen import paths, registry
from benchgen.checkpoint import GENERATOR_FILE
from benchgen.distributed import is_main_process, wait_for_everyone, world_size
from benchgen.errors import ConfigError
from benchgen.fit.saving import load_fitted, save_fitted
from benchgen.hashing import fingerprint
from benchgen.interfaces import FitContext, Generator
from benchgen.progress import ProgressFn, no_progress
from benchgen.provenance import now
from benchgen.suite.model import PluginSpec, Suite

if TYPE_CHECKING:
    from benchgen.data.load import Data


def fit_seed(seed: int, draw: int | None) -> int:
    """The seed a generator is fitted with: its own `seed`, or for draw ≥ 1 of the training set another one
    derived from it, so every draw is also a fresh training run."""
    if not draw:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(draw), 0x66697473]).generate_state(1)[0] >> 1)


def checkpoint_key(spec: PluginSpec, data_fp: str, part: str = "", draw: int | None = None) -> str:
    """The checkpoint folder's name: the generator's config without its sampling-only params, the data and
    the fit seed (and `part`, e.g. the condition of a per-condition fit; and the draw of the training set when
    a suite draws it more than once)."""
    skip = set(registry.load_class("generators", spec.plugin).sampling_params)
    config = spec.config()
    config = {**config, "params": {k: v for k, v in config["params"].items() if k not in skip}}
    extra: dict[str, Any] = {"part": part} if part else {}
    if draw is not None:  # only for draws > 1: checkpoints of suites drawing once keep their names
        extra["draw"] = draw
    return f"{spec.plugin}-{fingerprint({'generator': config, 'data': data_fp, 'seed': spec.seed, **extra})}"


def is_fitted(spec: PluginSpec, data: Data, condition: str = "") -> bool:
    """Whether the checkpoint `fit_or_load` would load exists (so a parent need not be resolved)."""
    key = checkpoint_key(spec, data.fingerprint, condition, data.draw)
    return (paths.cache_dir("checkpoints") / key / GENERATOR_FILE).is_file()


def fit_or_load(spec: PluginSpec, data: Data, suite: Suite, device: str, progress: ProgressFn = no_progress,
                force: bool = False, condition: str = "", parent: Path | None = None) -> tuple[Generator, Path]:
    """A fitted generator: loaded from its checkpoint if one exists for this config and data, else fitted
    (resuming from its work folder after an interruption) and saved atomically. With `condition`, it is
    fitted on (and validated with) that condition's scans only: one part of a ``per_condition`` generator.
    `parent` is the checkpoint folder a transfer-learned generator starts from (:func:`benchgen.fit.parent.
    resolve_parent`); a ``parent`` folder in the suite is taken as it is."""
    from filelock import FileLock

    from benchgen.conditions import of_condition

    gen: Generator = spec.build()
    gen.device = device
    root = paths.cache_dir("checkpoints")
    root.mkdir(parents=True, exist_ok=True)
    key = checkpoint_key(spec, data.fingerprint, condition, data.draw)
    final = root / key
    # one process per key fits; under `accelerate launch` the ranks fit together and rank 0 writes
    lock = FileLock(str(root / f".{key}.lock")) if world_size() == 1 else None
    if lock is not None:
        lock.acquire()
    try:
        if (final / GENERATOR_FILE).is_file() and not force:
            return load_fitted(gen, final), final
        if parent is None and spec.parent is not None:
            if spec.parent.path is None:
                raise ConfigError(f"generators.{spec.label}: its pretrain parent must be fitted first",
                                  "resolve it with benchgen.fit.parent.resolve_parent and pass it as `parent`")
            parent = spec.parent.path
        workdir = root / f"{key}.work"
        workdir.mkdir(parents=True, exist_ok=True)
        train, val = data.splits.train, data.splits.val
        if condition:
            train = of_condition(train, condition)
            val = of_condition(val, condition) if val is not None else None
            if train is None:
                raise ConfigError(f"generators.{spec.label}: per_condition, but the training split has no "
                                  f"{condition} scan")
        ctx = FitContext(workdir=workdir, seed=fit_seed(spec.seed, data.draw), device=device, profile=suite.profile,
                         val=val, progress=progress, parent=parent)
        gen.fit(train, ctx)
        if is_main_process():
            save_fitted(gen, final, generator_description(spec, data, suite, condition))
            for stale in paths.cache_dir("samples").glob(f"{key}-*"):  # drawn from the checkpoint just replaced
                stale.unlink(missing_ok=True)
            shutil.rmtree(workdir, ignore_errors=True)
        wait_for_everyone()
        return gen, final
    finally:
        if lock is not None:
            lock.release()


def generator_description(spec: PluginSpec, data: Data, suite: Suite, condition: str = "") -> dict[str, Any]:
    """What a checkpoint's ``generator.json`` says beside its weights' sha256: the plugin, its params, the data,
    the shape and affine it samples at (so it can be sampled without the suite that trained it)."""
    return {**spec.config(), "label": spec.label, "seed": spec.seed, "data_fingerprint": data.fingerprint,
            "suite": suite.name, "profile": suite.profile, "shape": list(suite.shape),
            "affine": np.asarray(data.splits.test.affine).tolist(), "created_at": now(),
            **({"condition": condition} if condition else {}),
            **({"draw": data.draw, "fit_seed": fit_seed(spec.seed, data.draw)} if data.draw is not None else {})}
