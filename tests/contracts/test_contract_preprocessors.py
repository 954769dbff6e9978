"""Contract every registered preprocessing step passes: Volume -> Volume, deterministic, input left
untouched, and a fingerprint that follows its params (it keys the preprocessed-data cache)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, get_args, get_origin

import numpy as np
import pytest

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.interfaces import PrepContext, Preprocessor
from benchgen.params import params_to_dict
from benchgen.volumes import Volume

RAW_SHAPE = (31, 37, 31)  # 6 mm voxels covering the MNI box (181×217×181 mm)
MNI_6MM = np.array([[6.0, 0, 0, -90], [0, 6.0, 0, -126], [0, 0, 6.0, -72], [0, 0, 0, 1]])


@pytest.fixture(scope="module")
def raw_volume(make_brains) -> Volume:
    """A scanner-like input: a brain-shaped blob in raw intensity units (0..~900) on a MNI-space grid."""
    array = make_brains(1, 7, RAW_SHAPE)[0, 0].numpy() * 900.0 + 5.0
    return Volume(array.astype(np.float32), MNI_6MM.copy(), "sub-contract", {"age": 50.0}, source="contract")


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


def test_steps_are_deterministic_and_leave_the_input_alone(preprocessor_name, load_plugin, raw_volume):
    cls, step = load_plugin("preprocessors", preprocessor_name)
    assert issubclass(cls, Preprocessor)
    ctx = PrepContext(target_shape=(8, 12, 8))
    before = raw_volume.array.copy()
    first = step(raw_volume, ctx)
    second = registry.create("preprocessors", preprocessor_name, dict(cls.tiny_params))(raw_volume, ctx)
    np.testing.assert_array_equal(raw_volume.array, before, err_msg="the step modified its input in place")
    assert isinstance(first, Volume)
    assert first.array.ndim == 3 and np.issubdtype(first.array.dtype, np.floating)
    assert np.isfinite(first.array).all()
    assert first.affine.shape == (4, 4) and np.isfinite(first.affine).all()
    assert first.subject_id == raw_volume.subject_id and first.metadata.get("age") == 50.0
    np.testing.assert_array_equal(second.array, first.array, err_msg="same input, different output")
    np.testing.assert_array_equal(second.affine, first.affine)


def test_fingerprint_follows_params(preprocessor_name, load_plugin):
    cls, step = load_plugin("preprocessors", preprocessor_name)
    again = registry.create("preprocessors", preprocessor_name, dict(cls.tiny_params))
    assert step.fingerprint() == again.fingerprint()
    base = params_to_dict(step.params)
    hints = typing.get_type_hints(type(step.params))
    changed, variable = [], []
    for f in dataclasses.fields(step.params):
        current = getattr(step.params, f.name)
        candidates = variations(current, hints[f.name])
        if candidates:
            variable.append(f.name)
        for candidate in candidates:
            try:
                other = registry.create("preprocessors", preprocessor_name, {**base, f.name: candidate})
            except ConfigError:
                continue  # outside the allowed range: try the next candidate
            if other.params == step.params:
                continue
            assert other.fingerprint() != step.fingerprint(), f"changing '{f.name}' kept the fingerprint"
            changed.append(f.name)
            break
    if variable:  # (a step whose only params are fixed strings or one-choice Literals has nothing to vary)
        assert changed, f"none of the parameters {variable} could be varied to check the fingerprint"
