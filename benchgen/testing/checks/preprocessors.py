"""The contract checks of preprocessing steps."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, get_args, get_origin

import numpy as np

from benchgen.errors import ConfigError
from benchgen.interfaces import PrepContext
from benchgen.params import params_to_dict
from benchgen.testing.checks import every_kind  # noqa: F401  (import and build run first)
from benchgen.testing.checks.shared import difference, shape_of
from benchgen.testing.core import Checker, contract_check
from benchgen.testing.data import raw_volume
from benchgen.volumes import Volume


def _apply(h: Checker, step: Any, label: str) -> tuple[Volume, Any]:
    volume = raw_volume()
    return volume, h.call(label, step, volume, PrepContext(target_shape=h.shape))


def _applied(h: Checker) -> tuple[Volume, Any]:
    return h.memo("applied", lambda: _apply(h, h.plugin, "step(volume, ctx)"))


def variations(value: Any, tp: Any) -> list[Any]:
    """Candidate other values for a parameter of annotation `tp` (the Params check may reject some)."""
    origin = get_origin(tp)
    if origin is Literal:
        return [v for v in get_args(tp) if v != value]
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return [v for a in args for v in variations(value, a)] if value is not None else []
    if tp is bool:
        return [not value]
    if tp is int:
        return [value + 1, value * 2, value - 1]
    if tp is float:
        return [value * 1.5 + 0.1, value * 0.5, value + 1.0, value - 0.05]
    if origin is tuple and isinstance(value, tuple) and value:
        inner = [a for a in get_args(tp) if a is not Ellipsis][0]
        return [(w, *value[1:]) for w in variations(value[0], inner)]
    return []


@contract_check("preprocessors", "apply")
def prep_apply(h: Checker) -> str:
    """`step(volume, ctx)` on a raw scanner-like volume (31×37×31, 6 mm MNI grid, intensities 5..~900;
    `ctx.target_shape` the tiny shape) returns a `Volume`."""
    _, out = _applied(h)
    h.require(isinstance(out, Volume), f"the step returned {type(out).__name__}, not a benchgen Volume")
    return f"{shape_of(out.array)} {out.array.dtype}"


@contract_check("preprocessors", "input_untouched", requires=("apply",))
def prep_input_untouched(h: Checker) -> None:
    """The input volume is not modified in place (array, affine and metadata as before)."""
    volume, pristine = _applied(h)[0], raw_volume()
    h.require(np.array_equal(volume.array, pristine.array, equal_nan=True),
              lambda: f"the step modified its input array in place ({difference(volume.array, pristine.array)})")
    h.require(np.array_equal(volume.affine, pristine.affine), "the step modified its input affine in place")
    h.require(volume.metadata == pristine.metadata and volume.subject_id == pristine.subject_id,
              "the step modified its input's subject id or metadata in place")


@contract_check("preprocessors", "output_volume", requires=("apply",))
def prep_output_volume(h: Checker) -> None:
    """The output is a 3D floating-point array with a finite 4×4 affine."""
    out = _applied(h)[1]
    arr, aff = np.asarray(out.array), np.asarray(out.affine)
    h.require(arr.ndim == 3, f"output array has shape {arr.shape}, not 3D")
    h.require(np.issubdtype(arr.dtype, np.floating), f"output array is {arr.dtype}, not floating point")
    h.require(aff.shape == (4, 4) and np.isfinite(aff).all(), f"output affine is not a finite 4×4 matrix: {aff!r}")


@contract_check("preprocessors", "output_finite", requires=("apply",))
def prep_output_finite(h: Checker) -> None:
    """The output array has no NaN or ±Inf."""
    arr = np.asarray(_applied(h)[1].array)
    h.require(np.isfinite(arr).all(), f"output has {int((~np.isfinite(arr)).sum())} non-finite voxel(s)")


@contract_check("preprocessors", "keeps_subject_and_metadata", requires=("apply",))
def prep_keeps_subject(h: Checker) -> None:
    """The output keeps the input's `subject_id` and `metadata` (`volume.replace(array, affine)` does)."""
    volume, out = _applied(h)
    h.require(out.subject_id == volume.subject_id, f"subject id {volume.subject_id!r} became {out.subject_id!r}")
    h.require(isinstance(out.metadata, dict) and out.metadata.get("age") == 50.0,
              f"metadata {volume.metadata} became {out.metadata}")


@contract_check("preprocessors", "deterministic", requires=("apply",))
def prep_deterministic(h: Checker) -> None:
    """A second instance with the same params gives an identical array and affine for the same input."""
    out = _applied(h)[1]
    step = h.call("building a second instance", h.build)
    _, again = _apply(h, step, "step(volume, ctx) on a second instance")
    h.require(isinstance(again, Volume), f"the step returned {type(again).__name__} the second time")
    h.require(np.array_equal(again.array, out.array),
              lambda: f"same input, different output ({difference(again.array, out.array)})")
    h.require(np.array_equal(again.affine, out.affine), "same input, different output affine")


@contract_check("preprocessors", "fingerprint_stable")
def prep_fingerprint_stable(h: Checker) -> str:
    """Two instances with equal params have equal `fingerprint()`s (it keys the preprocessed-data cache)."""
    again = h.call("building a second instance", h.build)
    h.require(again.fingerprint() == h.plugin.fingerprint(), "equal params gave different fingerprints")
    return h.plugin.fingerprint()[:12]


@contract_check("preprocessors", "fingerprint_follows_params")
def prep_fingerprint_follows_params(h: Checker) -> str:
    """Changing any parameter (to a value its `Params` accepts) changes the fingerprint."""
    step = h.plugin
    base = params_to_dict(step.params)
    hints = typing.get_type_hints(type(step.params))
    changed, variable = [], []
    for f in dataclasses.fields(step.params):
        candidates = variations(getattr(step.params, f.name), hints[f.name])
        if candidates:
            variable.append(f.name)
        for candidate in candidates:
            try:
                other = h.build({**base, f.name: candidate})
            except ConfigError:
                continue  # outside the allowed range: try the next candidate
            if other.params == step.params:
                continue
            h.require(other.fingerprint() != step.fingerprint(), f"changing '{f.name}' kept the fingerprint")
            changed.append(f.name)
            break
    if variable:  # (a step whose only params are fixed strings or one-choice Literals has nothing to vary)
        h.require(changed, f"none of the parameters {variable} could be varied to check the fingerprint")
    return f"varied {', '.join(changed)}" if changed else "no parameter to vary"
