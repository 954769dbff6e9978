"""Checkpoints as safetensors + JSON: written atomically, read without unpickling anything.

Two kinds:

* the **training state** in the fit workdir (``ckpt-<step>/`` with model, EMA and optimizer tensors and a
  ``state.json``), written to a temporary folder and renamed into place, then pointed to by ``latest.json``
  (replaced atomically), so a kill -9 at any moment leaves the previous complete state readable;
* the **final weights** written by ``save`` (``weights.safetensors`` + ``ddpm.json``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from benchgen.atomic import atomic_path, write_error, write_text
from benchgen.descriptions import read_description
from benchgen.errors import ConfigError

FORMAT = "benchgen-ddpm/1"
_CKPT = re.compile(r"^ckpt-(\d{9})$")


def atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    with atomic_path(path, ".safetensors") as tmp:
        save_file(_plain(tensors), tmp)


def _plain(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors wants contiguous CPU tensors that share no storage
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}


# ------------------------------------------------------------------------- optimizer state <-> tensors
def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """torch optimizer ``state_dict`` -> (tensors for safetensors, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state["state"].items():
        for name, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for pid, entry in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


# ------------------------------------------------------------------------------- training state
def save_training_state(workdir: Path, step: int, groups: dict[str, dict[str, torch.Tensor]],
                        meta: dict[str, Any], keep: int = 2) -> Path:
    """Write ``ckpt-<step>/`` (one safetensors file per group + state.json), then point latest.json at it."""
    workdir.mkdir(parents=True, exist_ok=True)
    final = workdir / f"ckpt-{step:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-ckpt-", dir=workdir))
    try:
        for name, tensors in groups.items():
            save_file(_plain(tensors), str(tmp / f"{name}.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"format": FORMAT, "step": step, **meta}, indent=1))
        if final.exists():  # a state for this step from an earlier interrupted run: replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        named = write_error(final, exc) if isinstance(exc, Exception) else None
        if named is not None and named is not exc:
            raise named from exc  # e.g. a full disk: the training state's folder, not a bare [Errno 28]
        raise
    write_text(workdir / "latest.json", json.dumps({"checkpoint": final.name, "step": step}))
    for old in sorted(p for p in workdir.iterdir() if _CKPT.match(p.name))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for junk in workdir.glob(".tmp-ckpt-*"):  # left by a process killed while writing
        shutil.rmtree(junk, ignore_errors=True)
    return final


def load_training_state(workdir: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, Any]] | None:
    """The newest complete training state in `workdir`, or None. Only safetensors and JSON are read."""
    if not workdir.is_dir():
        return None
    candidates = sorted((p for p in workdir.iterdir() if _CKPT.match(p.name)), reverse=True)
    try:  # prefer the pointer; fall back to the newest complete folder if it is missing or stale
        latest = json.loads((workdir / "latest.json").read_text())["checkpoint"]
        candidates.sort(key=lambda p: p.name != latest)
    except (OSError, ValueError, KeyError):
        pass
    for folder in candidates:
        try:
            meta = json.loads((folder / "state.json").read_text())
            if meta.get("format") != FORMAT:
                continue
            groups = {p.stem: load_file(str(p)) for p in folder.glob("*.safetensors")}
            return groups, meta
        except (OSError, ValueError, SafetensorError):  # incomplete or corrupt: try the next one
            continue
    return None


# --------------------------------------------------------------------------------- final weights
def save_weights(folder: Path, weights: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_save_tensors(weights, folder / "weights.safetensors")
    write_text(folder / "ddpm.json", json.dumps({"format": FORMAT, **meta}, indent=1))


def load_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    folder = Path(folder)
    damaged = "the checkpoint is damaged (e.g. a copy cut short): copy it again, or train again with --force"
    meta = read_description(folder / "ddpm.json", what="ddpm checkpoint description", hint=damaged,
                            folder_kind="ddpm checkpoint",
                            missing_hint="point at a folder written by the ddpm generator's save()")
    try:
        weights = load_file(str(folder / "weights.safetensors"))
    except FileNotFoundError as exc:
        raise ConfigError(f"ddpm: {folder} is not a ddpm checkpoint (missing {Path(exc.filename).name})",
                          "point at a folder written by the ddpm generator's save()") from None
    except (OSError, ValueError, SafetensorError) as exc:
        raise ConfigError(f"ddpm: {folder / 'weights.safetensors'}: not a readable safetensors file ({exc})",
                          damaged) from None
    if meta.get("format") != FORMAT:
        raise ConfigError(f"ddpm: {folder}/ddpm.json has format {meta.get('format')!r}, expected {FORMAT!r}")
    return weights, meta


def config_mismatch(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Keys whose values differ (compared as JSON, so tuples and lists are equal)."""
    return sorted(k for k in set(stored) | set(current)
                  if json.dumps(stored.get(k)) != json.dumps(current.get(k)))
