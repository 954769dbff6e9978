"""Fitted generators on disk: one folder per (generator config, data, fit seed) under the checkpoint cache.

A folder holds what the plugin's ``save`` wrote plus ``generator.json`` (the plugin, its params, the
data fingerprint, shape and affine), so it can be sampled without the suite that trained it. Fits of the
same key take a file lock: a second process waits, then reuses the finished checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import typing
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from benchgen import paths, registry
from benchgen.atomic import write_error, write_text
from benchgen.bounds import check_geometry
from benchgen.distributed import is_main_process, wait_for_everyone, world_size
from benchgen.errors import ConfigError, DataError
from benchgen.hashing import file_sha256, fingerprint
from benchgen.interfaces import FitContext, Generator, save_generator
from benchgen.params import coerce, parse_params
from benchgen.progress import ProgressFn, no_progress
from benchgen.provenance import now
from benchgen.suite import PluginSpec, Suite

if typing.TYPE_CHECKING:
    from benchgen.data import Data

GENERATOR_FILE = "generator.json"
WEIGHTS_KEY = "weights_sha256"  # generator.json: checkpoint_sha256 of the folder as saved


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


def checkpoint_sha256(folder: Path) -> str:
    """sha256 over a checkpoint folder's weight files (``*.safetensors``: names and bytes), or over all its
    files but ``generator.json`` when it has none: what identifies a fine-tuning parent."""
    files = sorted(Path(folder).glob("*.safetensors")) or sorted(
        f for f in Path(folder).iterdir() if f.is_file() and f.name != GENERATOR_FILE)
    return fingerprint([[f.name, file_sha256(f)] for f in files], 64)


def verified_weights(folder: Path) -> str:
    """The checkpoint's :func:`checkpoint_sha256`, checked against the one its ``generator.json`` recorded when
    it was saved: weights that changed since are a DataError naming the folder, never a silent new score. A
    checkpoint saved before the checksum was recorded gets it now (kept unchecked if the cache is read-only)."""
    meta_file = Path(folder) / GENERATOR_FILE
    meta = json.loads(meta_file.read_text())
    digest = checkpoint_sha256(folder)
    stored = meta.get(WEIGHTS_KEY)
    if stored is None:
        try:
            write_text(meta_file, json.dumps({**meta, WEIGHTS_KEY: digest}, indent=2))
        except OSError:
            pass
    elif stored != digest:
        raise DataError(f"{folder}: its weights changed since they were saved (sha256 {digest[:16]}…, "
                        f"{GENERATOR_FILE} records {str(stored)[:16]}…)",
                        "restore the checkpoint's files, or delete the folder to fit again")
    return digest


def generator_config(folder: Path) -> dict[str, Any]:
    """The plugin, version and params a checkpoint folder's ``generator.json`` records: a fine-tuning parent's
    identity (with :func:`checkpoint_sha256`). A missing or unreadable file is a ConfigError naming it."""
    meta_file = Path(folder) / GENERATOR_FILE
    try:
        meta = json.loads(meta_file.read_text())
        return {k: meta[k] for k in ("plugin", "version", "params")}
    except FileNotFoundError:
        raise ConfigError(f"{folder} is not a checkpoint folder (no {GENERATOR_FILE})",
                          "pass a folder that `benchgen train` printed, or use a pretrain table") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{meta_file} is not a readable checkpoint description ({type(exc).__name__}: {exc})",
                          "restore it, or train the parent again") from None


def parent_folder(spec: PluginSpec, suite: Suite, device: str, progress: ProgressFn = no_progress) -> Path | None:
    """The checkpoint a transfer-learned generator starts from: its ``parent`` folder, or its ``pretrain``
    generator fitted (or loaded) on that table's dataset, like any generator; None for other generators."""
    if spec.parent is None:
        return None
    if spec.parent.path is not None:
        return spec.parent.path
    from benchgen.data import load_data

    parent_spec = spec.parent.spec
    assert parent_spec is not None  # a Parent has a path or a spec
    parent_suite = spec.parent.suite(suite)
    progress(f"{spec.label}: its parent {parent_spec.label} first", 0, 1)
    _, folder = fit_or_load(parent_spec, load_data(parent_suite, progress), parent_suite, device, progress)
    return folder


def fit_or_load(spec: PluginSpec, data: Data, suite: Suite, device: str, progress: ProgressFn = no_progress,
                force: bool = False, condition: str = "") -> tuple[Generator, Path]:
    """A fitted generator: loaded from its checkpoint if one exists for this config and data, else fitted
    (resuming from its work folder after an interruption) and saved atomically. With `condition`, it is
    fitted on (and validated with) that condition's scans only: one part of a ``per_condition`` generator."""
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
            _check_description(final)
            gen.load(final)
            return gen, final
        parent = parent_folder(spec, suite, device, progress)
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
            tmp = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
            try:
                save_generator(gen, tmp)
                write_generator_json(tmp, spec, data, suite, condition, weights_sha256=checkpoint_sha256(tmp))
            except Exception as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                named = write_error(final, exc)  # a full disk names the checkpoint, not a bare [Errno 28]
                if named is None or named is exc:
                    raise
                raise named from exc
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            for stale in paths.cache_dir("samples").glob(f"{key}-*"):  # drawn from the checkpoint just replaced
                stale.unlink(missing_ok=True)
            shutil.rmtree(workdir, ignore_errors=True)
        wait_for_everyone()
        return gen, final
    finally:
        if lock is not None:
            lock.release()


def write_generator_json(folder: Path, spec: PluginSpec, data: Data, suite: Suite, condition: str = "",
                         weights_sha256: str | None = None) -> None:
    meta = {**spec.config(), "label": spec.label, "seed": spec.seed, "data_fingerprint": data.fingerprint,
            "suite": suite.name, "profile": suite.profile, "shape": list(suite.shape),
            "affine": np.asarray(data.splits.test.affine).tolist(), "created_at": now(),
            **({"condition": condition} if condition else {}),
            **({"draw": data.draw, "fit_seed": fit_seed(spec.seed, data.draw)} if data.draw is not None else {}),
            **({WEIGHTS_KEY: weights_sha256} if weights_sha256 else {})}
    write_text(folder / GENERATOR_FILE, json.dumps(meta, indent=2))


def load_checkpoint(folder: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Generator, dict[str, Any]]:
    """Rebuild the generator recorded in ``generator.json`` (params optionally overridden, e.g. the
    sampler) and load its fitted state."""
    folder = Path(folder)
    meta_file = folder / GENERATOR_FILE
    if not meta_file.is_file():
        raise ConfigError(f"{folder}: not a checkpoint folder (no {GENERATOR_FILE})",
                          "pass the folder printed by `benchgen train`")
    try:
        meta = json.loads(meta_file.read_text())
        missing = [k for k in ("plugin", "version", "params", "shape", "affine") if k not in meta]
        why = f"missing {', '.join(missing)}" if missing else None
    except (OSError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError; TypeError: not an object
        why = f"{type(exc).__name__}: {exc}"
    if why:
        raise ConfigError(f"{meta_file}: not a valid checkpoint description ({why})",
                          "it must be the JSON object `benchgen train` wrote (plugin, version, params, shape, "
                          "affine, ...): restore it or train again")
    check_geometry(meta, meta_file)
    verified_weights(folder)
    plugin, version, stored = meta["plugin"], meta["version"], meta["params"]
    cls = registry.load_class("generators", plugin)
    if cls.version != version:
        raise ConfigError(f"{folder}: checkpoint of {plugin} version {version}, installed version is "
                          f"{cls.version}", "train again with the installed plugin")
    params = parse_params(cls.Params, stored, f"{meta_file} params")
    fields = {f.name for f in dataclasses.fields(params)}
    hints = typing.get_type_hints(cls.Params)
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(f"generator '{meta['plugin']}' has no '{key}' setting to override")
        try:
            params = dataclasses.replace(params, **{key: coerce(value, hints[key], f"--{key}")})
        except ValueError as exc:  # the plugin's own range checks
            raise ConfigError(f"--{key} {value}: {exc}") from None
    gen = registry.instantiate("generators", meta["plugin"], params)
    gen.load(folder)
    return gen, meta


def _check_description(folder: Path) -> None:
    """Before a cached checkpoint is loaded: its generator.json's geometry, and its weights' checksum."""
    meta_file = folder / GENERATOR_FILE
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{meta_file}: not a valid checkpoint description ({type(exc).__name__}: {exc})",
                          "delete the folder to fit again") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"{meta_file}: not a valid checkpoint description (not a JSON object)",
                          "delete the folder to fit again")
    check_geometry(meta, meta_file)
    verified_weights(folder)


def weights_record(checkpoints: dict[str, Path]) -> dict[str, Any]:
    """What a record says about the weights its samples came from (``extra``, never a cell key): the sha256
    its generator.json recorded, or one per condition of a per-condition generator."""
    shas = {}
    for cond, folder in checkpoints.items():
        try:
            shas[cond] = json.loads((Path(folder) / GENERATOR_FILE).read_text()).get(WEIGHTS_KEY)
        except (OSError, ValueError, AttributeError):
            shas[cond] = None
    if list(shas) == [""]:
        return {WEIGHTS_KEY: shas[""]}
    return {WEIGHTS_KEY: shas}
