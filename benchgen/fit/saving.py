"""How a fitted generator is saved to its checkpoint folder and loaded back: the one path the runner's fit
(:func:`benchgen.fit.fit.fit_or_load`) and the plugin kit's round-trip check (``benchgen check``) both take,
so a plugin that passes the kit saves and loads in a run exactly as it did there.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from benchgen.atomic import write_error, write_text
from benchgen.checkpoint import (
    GENERATOR_FILE,
    WEIGHTS_KEY,
    check_description,
    checkpoint_sha256,
    rebuild_generator,
)
from benchgen.interfaces import Generator, save_generator


def save_fitted(gen: Generator, final: Path, description: dict[str, Any]) -> None:
    """Save `gen` into a fresh temporary folder beside `final` (``gen.save`` gets it created and empty), write
    its ``generator.json`` (`description` and the weights' sha256), then move it to `final` in one step
    (replacing what was there): an interrupted save leaves no half-written checkpoint. A full disk is named
    as a write error on `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        save_generator(gen, tmp)
        meta = {**description, WEIGHTS_KEY: checkpoint_sha256(tmp)}
        write_text(tmp / GENERATOR_FILE, json.dumps(meta, indent=2))
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        named = write_error(final, exc)  # a full disk names the checkpoint, not a bare [Errno 28]
        if named is None or named is exc:
            raise
        raise named from exc
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def load_fitted(gen: Generator, folder: Path) -> Generator:
    """`gen` (built with the params it was fitted with) with the fitted state of the checkpoint `folder`,
    after its ``generator.json`` geometry and weights' checksum are checked."""
    check_description(folder)
    gen.load(folder)
    return gen


def load_checkpoint(folder: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Generator, dict[str, Any]]:
    """The generator a checkpoint folder describes (params optionally overridden, e.g. the sampler), loaded by
    :func:`load_fitted` like a run's, and its ``generator.json``: what `benchgen sample` draws from."""
    folder = Path(folder)
    gen, meta = rebuild_generator(folder, overrides)
    return load_fitted(gen, folder), meta
