"""The checkpoint folder format: what a fitted generator's folder holds and how it is read back.

A folder holds what the plugin's ``save`` wrote plus ``generator.json`` (the plugin, its params, the data
fingerprint, shape and affine, and the sha256 of its weights), so it can be sampled without the suite that
trained it. Fitting lives in :mod:`benchgen.fit`; this module only reads and checks folders.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

from benchgen import registry
from benchgen.atomic import write_text
from benchgen.bounds import check_geometry
from benchgen.descriptions import read_description
from benchgen.errors import ConfigError, DataError
from benchgen.hashing import file_sha256, fingerprint
from benchgen.interfaces import Generator
from benchgen.params import coerce, parse_params

GENERATOR_FILE = "generator.json"
WEIGHTS_KEY = "weights_sha256"  # generator.json: checkpoint_sha256 of the folder as saved
WHAT = "checkpoint description"
MISSING_HINT = "pass the folder printed by `benchgen train`"


def read_generator_json(folder: Path, required: tuple[str, ...] = (), hint: str = "restore it or train again",
                        missing_hint: str = MISSING_HINT) -> dict[str, Any]:
    """A checkpoint folder's ``generator.json`` (one ConfigError line naming it when missing, broken or
    lacking a `required` key)."""
    return read_description(Path(folder) / GENERATOR_FILE, required, what=WHAT, hint=hint,
                            folder_kind="checkpoint folder", missing_hint=missing_hint)


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
    meta = read_generator_json(folder)
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
    keys = ("plugin", "version", "params")
    meta = read_generator_json(folder, keys, "restore it, or train the parent again",
                               "pass a folder that `benchgen train` printed, or use a pretrain table")
    return {k: meta[k] for k in keys}


def rebuild_generator(folder: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Generator, dict[str, Any]]:
    """The generator recorded in ``generator.json`` (params optionally overridden, e.g. the sampler), built but
    not loaded, and the description: :func:`benchgen.fit.saving.load_checkpoint` loads its state."""
    folder = Path(folder)
    meta_file = folder / GENERATOR_FILE
    meta = read_generator_json(folder, ("plugin", "version", "params", "shape", "affine"),
                               "it must be the JSON object `benchgen train` wrote (plugin, version, params, shape, "
                               "affine, ...): restore it or train again")
    check_geometry(meta, meta_file)
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
    return registry.instantiate("generators", meta["plugin"], params), meta


def check_description(folder: Path) -> None:
    """Before a cached checkpoint is loaded: its generator.json's geometry, and its weights' checksum."""
    meta_file = folder / GENERATOR_FILE
    meta = read_generator_json(folder, hint="delete the folder to fit again")
    check_geometry(meta, meta_file)
    verified_weights(folder)


def weights_record(checkpoints: dict[str, Path]) -> dict[str, Any]:
    """What a record says about the weights its samples came from (``extra``, never a cell key): the sha256
    its generator.json recorded, or one per condition of a per-condition generator."""
    shas = {}
    for cond, folder in checkpoints.items():
        try:
            shas[cond] = read_generator_json(folder).get(WEIGHTS_KEY)
        except ConfigError:  # a record says "unknown" rather than fail over a description it only quotes
            shas[cond] = None
    if list(shas) == [""]:
        return {WEIGHTS_KEY: shas[""]}
    return {WEIGHTS_KEY: shas}
