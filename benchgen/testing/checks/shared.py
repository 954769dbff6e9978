"""What the contract checks of every kind share: the sizes they run at and how they compare outputs."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from benchgen.testing.core import Checker, CheckSkipped
from benchgen.testing.data import FILE_INPUTS, PATH_PARAMS

N_SAMPLES = 4  # sample(4, seed=0), then sample(3, seed=1)
N_CONDITIONAL = (3, 2)  # sample_conditional: 3 rows of one condition, then 2 of another
EXTRA_KEY = "contract_extra_key"  # a metadata key no generator conditions on: it must be ignored
N_FEATURE_VOLUMES = 5
SAME_ATOL = 1e-6  # "the same samples": equal to within this (absolute, per voxel)


def shape_of(x: Any) -> str:
    return "×".join(map(str, x.shape)) if hasattr(x, "shape") else type(x).__name__


def difference(a: Any, b: Any) -> str:
    """How two tensors / arrays differ, in a few words."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return f"shapes {shape_of(a)} and {shape_of(b)}"
    diff = np.abs(a - b)
    diff[np.isnan(a) & np.isnan(b)] = 0.0
    diff = np.nan_to_num(diff, nan=np.inf)
    return f"max |difference| {diff.max():.3g} in {int((diff > 0).sum())} of {diff.size} values"


def same(a: Any, b: Any, atol: float = 0.0) -> bool:
    """Equal shapes and values within `atol` (NaN equal to NaN: finiteness is a check of its own)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=atol, equal_nan=True))


def same_numbers(a: Any, b: Any) -> bool:
    """Equal numbers (or tuples / None), NaN equal to NaN (finiteness is a check of its own)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_numbers(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def dataset_params(h: Checker, params: dict[str, Any]) -> dict[str, Any]:
    """tiny_params, plus the path parameter pointed at a tiny input for a source in FILE_INPUTS. Skips
    (with the reason) a source whose required parameters cannot be guessed."""
    fields = {f.name: f for f in dataclasses.fields(h.cls.Params)}
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING and n not in params]
    path_keys = [n for n in fields if n in PATH_PARAMS]
    if h.name in FILE_INPUTS and not any(k in params for k in path_keys):
        h.require(path_keys, f"'{h.name}' reads files but has none of the parameters {PATH_PARAMS}")
        params[path_keys[0]] = str(FILE_INPUTS[h.name](h.folder("inputs")))
        required = [n for n in required if n != path_keys[0]]
    if required:
        raise CheckSkipped(f"dataset '{h.name}' needs files named by required params {required}; give it "
                           "tiny_params, pass them (`--param KEY=VALUE`, `params=`) or add a maker to "
                           "benchgen.testing.FILE_INPUTS")
    return params
