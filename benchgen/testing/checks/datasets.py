"""The contract checks of dataset sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchgen.interfaces import DataItem
from benchgen.params import params_to_dict
from benchgen.testing.checks import every_kind  # noqa: F401  (import and build run first)
from benchgen.testing.checks.shared import difference, shape_of
from benchgen.testing.core import Checker, contract_check
from benchgen.volumes import Volume


def _items(h: Checker) -> Any:
    return h.memo("items", lambda: h.call("items()", h.plugin.items))


def _loaded(h: Checker) -> list[tuple[DataItem, Any]]:
    def load() -> list[tuple[DataItem, Any]]:
        return [(item, h.call(f"load(item '{item.subject_id}')", h.plugin.load, item)) for item in _items(h)[:2]]
    return h.memo("loaded", load)


@contract_check("datasets", "items")
def dataset_items(h: Checker) -> str:
    """`items()` returns a non-empty list of `DataItem`s, each with a metadata dict."""
    items = _items(h)
    h.require(isinstance(items, Sequence) and not isinstance(items, str),
              f"items() returned {type(items).__name__}, not a list")
    h.require(len(items) > 0, "items() returned no items")
    bad = [type(i).__name__ for i in items if not isinstance(i, DataItem)]
    h.require(not bad, lambda: f"items() returned {bad[0]}, not DataItem")
    h.require(all(isinstance(i.metadata, dict) for i in items), "an item's metadata is not a dict")
    return f"{len(items)} item(s)"


@contract_check("datasets", "unique_keys", requires=("items",))
def dataset_unique_keys(h: Checker) -> None:
    """No two items share a content `key`."""
    keys = [i.key for i in _items(h)]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    h.require(not dup, f"two items share a content key: {dup[:3]}")


@contract_check("datasets", "unique_subject_ids", requires=("items",))
def dataset_unique_subjects(h: Checker) -> None:
    """No two items share a `subject_id`."""
    ids = [i.subject_id for i in _items(h)]
    dup = sorted({s for s in ids if ids.count(s) > 1})
    h.require(not dup, f"two items share a subject id: {dup[:3]}")


@contract_check("datasets", "items_stable", requires=("items",))
def dataset_items_stable(h: Checker) -> None:
    """A new instance with the same params lists the same (subject id, key) pairs in the same order."""
    source = h.call("building a second instance", h.build, params_to_dict(h.plugin.params))
    again = h.call("items() on a second instance", source.items)
    first = [(i.subject_id, i.key) for i in _items(h)]
    h.require([(i.subject_id, i.key) for i in again] == first, "items() is not stable across instances")


@contract_check("datasets", "load_item", requires=("items",))
def dataset_load_item(h: Checker) -> str:
    """`load(item)` (first two items) returns a `Volume` of that item's subject: a 3D floating-point array with
    at least 2 voxels along each axis."""
    for item, vol in _loaded(h):
        h.require(isinstance(vol, Volume), f"load() returned {type(vol).__name__}, not a benchgen Volume")
        h.require(vol.subject_id == item.subject_id,
                  f"load(item '{item.subject_id}') has subject id {vol.subject_id!r}")
        arr = np.asarray(vol.array)
        h.require(arr.ndim == 3 and min(arr.shape) >= 2, f"'{item.subject_id}': array shape {arr.shape}, not 3D ≥ 2")
        h.require(np.issubdtype(arr.dtype, np.floating), f"'{item.subject_id}': array is {arr.dtype}, not floating")
    return ", ".join(f"{i.subject_id} {shape_of(v.array)}" for i, v in _loaded(h))


@contract_check("datasets", "volume_values", requires=("load_item",))
def dataset_volume_values(h: Checker) -> None:
    """Loaded volumes are finite and not blank (max > min)."""
    for item, vol in _loaded(h):
        arr = np.asarray(vol.array)
        h.require(np.isfinite(arr).all(), f"'{item.subject_id}': {int((~np.isfinite(arr)).sum())} non-finite voxel(s)")
        h.require(arr.max() > arr.min(), f"'{item.subject_id}': a blank volume")


@contract_check("datasets", "affine_invertible", requires=("load_item",))
def dataset_affine(h: Checker) -> None:
    """Each loaded volume's affine is a finite 4×4 matrix with an invertible 3×3 part."""
    for item, vol in _loaded(h):
        aff = np.asarray(vol.affine)
        h.require(aff.shape == (4, 4) and np.isfinite(aff).all() and np.linalg.det(aff[:3, :3]) != 0,
                  f"'{item.subject_id}': affine is not a finite, invertible 4×4 matrix: {aff.tolist()}")


@contract_check("datasets", "load_deterministic", requires=("load_item",))
def dataset_load_deterministic(h: Checker) -> None:
    """Loading the same item twice gives identical voxels."""
    for item, vol in _loaded(h):
        again = h.call(f"load(item '{item.subject_id}') again", h.plugin.load, item)
        if not np.array_equal(np.asarray(again.array), np.asarray(vol.array)):
            raise h.fail(f"'{item.subject_id}': load() is not deterministic ({difference(again.array, vol.array)})")
