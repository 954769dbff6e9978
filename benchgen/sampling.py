"""Sampling from a stored checkpoint folder, independent of the suite that trained it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.params import coerce, parse_params
from benchgen.volumes import Cohort, write_cohort

if TYPE_CHECKING:
    from benchgen.interfaces import Generator


def load_checkpoint(folder: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Generator, dict[str, Any]]:
    """Rebuild the generator recorded in ``generator.json`` and load its fitted state."""
    from benchgen.runner import GENERATOR_FILE

    folder = Path(folder)
    meta_file = folder / GENERATOR_FILE
    if not meta_file.is_file():
        raise ConfigError(f"{folder}: not a checkpoint folder (no {GENERATOR_FILE})",
                          "pass the folder printed by `benchgen train`")
    meta = json.loads(meta_file.read_text())
    cls = registry.load_class("generators", meta["plugin"])
    if cls.version != meta["version"]:
        raise ConfigError(f"{folder}: checkpoint of {meta['plugin']} version {meta['version']}, installed version is "
                          f"{cls.version}", "train again with the installed plugin")
    params = parse_params(cls.Params, meta["params"], f"{meta_file} params")
    fields = {f.name: f for f in dataclasses.fields(params)}
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(f"generator '{meta['plugin']}' has no '{key}' setting to override")
        import typing

        tp = typing.get_type_hints(cls.Params)[key]
        try:
            params = dataclasses.replace(params, **{key: coerce(value, tp, f"--{key}")})
        except ValueError as exc:  # the plugin's own range checks
            raise ConfigError(f"--{key} {value}: {exc}") from None
    gen = registry.instantiate("generators", meta["plugin"], params)
    gen.load(folder)
    return gen, meta


def sample_checkpoint(folder: str | Path, n: int, out_dir: str | Path, seed: int = 0,
                      overrides: dict[str, Any] | None = None, progress: Any = None) -> list[Path]:
    if n < 1:
        raise ConfigError(f"-n: must be at least 1, got {n}")
    gen, meta = load_checkpoint(folder, overrides)
    from benchgen.runner import check_samples

    kwargs = {"progress": progress} if progress else {}
    data = check_samples(gen.sample(n, seed, **kwargs), n, tuple(meta["shape"]), meta.get("label", meta["plugin"]))
    cohort = Cohort(data, np.asarray(meta["affine"]), [f"{meta['plugin']}-seed{seed}-{i:03d}" for i in range(n)])
    return write_cohort(cohort, out_dir)
