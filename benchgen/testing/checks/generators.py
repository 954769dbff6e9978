"""The contract checks of every plugin kind, one function per check, registered in order in
:data:`benchgen.testing.core.CHECKS`. Each function's first docstring line says what it demands (it is
shown by ``benchgen check`` and listed in docs/plugins.md).

Shared inputs are built once per :class:`~benchgen.testing.core.Checker` through ``checker.memo``: a
generator is fitted once and sampled once for seed 0, a metric scored once, a step applied once.

To add a check: write ``def my_check(h: Checker) -> str | None`` (raise ``h.fail(...)`` or use
``h.require(...)``; return an optional one-line detail for the PASS line) and register it with
``@contract_check(kind, "my_check", requires=(...))``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, get_args, get_origin

import numpy as np
import torch

from benchgen import registry
from benchgen.conditions import ALIASES
from benchgen.errors import BenchgenError, ConfigError
from benchgen.interfaces import (
    KINDS,
    METRIC_KINDS,
    DataItem,
    FitContext,
    MetricContext,
    MetricResult,
    PrepContext,
    save_generator,
)
from benchgen.params import params_to_dict, parse_params
from benchgen.testing.core import Checker, CheckSkipped, ContractFailure, contract_check
from benchgen.testing.data import FILE_INPUTS, PATH_PARAMS, brain_like, no_pickles, raw_volume
from benchgen.volumes import Volume

N_SAMPLES = 4  # sample(4, seed=0), then sample(3, seed=1)
N_CONDITIONAL = (3, 2)  # sample_conditional: 3 rows of one condition, then 2 of another
EXTRA_KEY = "contract_extra_key"  # a metadata key no generator conditions on: it must be ignored
N_FEATURE_VOLUMES = 5
SAME_ATOL = 1e-6  # "the same samples": equal to within this (absolute, per voxel)


def _shape(x: Any) -> str:
    return "×".join(map(str, x.shape)) if hasattr(x, "shape") else type(x).__name__


def _difference(a: Any, b: Any) -> str:
    """How two tensors / arrays differ, in a few words."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return f"shapes {_shape(a)} and {_shape(b)}"
    diff = np.abs(a - b)
    diff[np.isnan(a) & np.isnan(b)] = 0.0
    diff = np.nan_to_num(diff, nan=np.inf)
    return f"max |difference| {diff.max():.3g} in {int((diff > 0).sum())} of {diff.size} values"


def _same(a: Any, b: Any, atol: float = 0.0) -> bool:
    """Equal shapes and values within `atol` (NaN equal to NaN: finiteness is a check of its own)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=atol, equal_nan=True))


def _same_numbers(a: Any, b: Any) -> bool:
    """Equal numbers (or tuples / None), NaN equal to NaN (finiteness is a check of its own)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_numbers(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


# ================================================================================= every kind
@contract_check(tuple(KINDS), "import", requires=())
def plugin_imports(h: Checker) -> str:
    """The class imports (through its entry point) and subclasses the kind's base class in
    `benchgen.interfaces`; a broken or twice-registered plugin fails here with the registry's message."""
    try:
        cls = h.load_class()
    except BenchgenError as exc:  # the registry keeps a broken plugin's import traceback as the error's details
        raise ContractFailure(h.current or "import", f"cannot be loaded: {exc}",
                              traceback=exc.debug_details) from None
    base = KINDS[h.kind]
    h.require(isinstance(cls, type) and issubclass(cls, base),
              f"{cls!r} is not a subclass of benchgen.interfaces.{base.__name__}")
    h.state["cls"] = cls
    where = f"{cls.__module__}.{cls.__qualname__}"
    entry = registry.entries(h.kind).get(h.name) if h.registered else None
    return f"{where} ({entry.distribution} {entry.dist_version})" if entry else where


@contract_check(tuple(KINDS), "build", requires=("import",))
def plugin_builds(h: Checker) -> str:
    """The plugin builds from its `tiny_params` (updated by any params given): `tiny_params` is a dict and
    its `Params` dataclass accepts them."""
    tiny = h.cls.tiny_params
    h.require(isinstance(tiny, dict), f"tiny_params is {type(tiny).__name__}, not a dict")
    h.require(dataclasses.is_dataclass(h.cls.Params), f"Params ({h.cls.Params!r}) is not a dataclass")
    params = {**tiny, **h.overrides}
    if h.kind == "datasets":
        params = _dataset_params(h, params)
    h.state["params"] = params
    try:
        h.state["plugin"] = h.call("building it", h.build)
    except ContractFailure as exc:
        if isinstance(exc.__cause__, ConfigError):  # a one-line reason: no traceback to show
            raise h.fail(f"params {params} are rejected: {exc.__cause__}") from None
        raise
    return f"params {params_to_dict(h.plugin.params)}"


# ================================================================================= generators
def _fitted_samples(h: Checker) -> Any:
    return h.memo("samples", lambda: h.call(f"sample({N_SAMPLES}, seed=0)", h.plugin.sample, N_SAMPLES, seed=0))


def _other_seed_samples(h: Checker) -> Any:
    n = N_SAMPLES - 1
    return h.memo("samples-seed1", lambda: h.call(f"sample({n}, seed=1)", h.plugin.sample, n, seed=1))


def _checkpoint(h: Checker) -> Any:
    def save() -> Any:
        folder = h.folder("checkpoint", create=False)
        h.call("save()", save_generator, h.plugin, folder)
        return folder
    return h.memo("checkpoint", save)


@contract_check("generators", "fit")
def generator_fit(h: Checker) -> str:
    """`fit(train, ctx)` on 10 tiny brain-like volumes (a validation split of 6 in `ctx.val`, a work folder in
    `ctx.workdir`, seed 0, CPU; for a generator with `parent_plugins`, its `tiny_parent` in `ctx.parent`)
    returns without raising."""
    cohorts = h.cohorts
    parent = None
    if getattr(h.cls, "parent_plugins", ()):  # transfer-learned: a small parent checkpoint to start from
        parent = h.call("tiny_parent()", h.cls.tiny_parent,  # type: ignore[attr-defined]
                        h.folder("parent"), cohorts["train"], cohorts["val"])
    ctx = FitContext(workdir=h.folder("fit-work"), seed=0, val=cohorts["val"], quiet=True, parent=parent)
    h.call("fit()", h.plugin.fit, cohorts["train"], ctx)
    return f"{len(cohorts['train'])} volumes of {'×'.join(map(str, h.shape))}"


@contract_check("generators", "sample", requires=("fit",))
def generator_sample(h: Checker) -> str:
    """`sample(4, seed=0)` returns a `torch.Tensor`."""
    x = _fitted_samples(h)
    h.require(isinstance(x, torch.Tensor), f"sample() returned {type(x).__name__}, not a torch.Tensor")
    return f"{_shape(x)} {str(x.dtype).removeprefix('torch.')}"


@contract_check("generators", "sample_shape", requires=("sample",))
def generator_sample_shape(h: Checker) -> None:
    """`sample(n, seed)` is `n×1×D×H×W` at the training shape (checked for n = 4 and n = 3)."""
    for n, x in ((N_SAMPLES, _fitted_samples(h)), (N_SAMPLES - 1, _other_seed_samples(h))):
        expected = (n, 1, *h.shape)
        h.require(isinstance(x, torch.Tensor), f"sample({n}, ...) returned {type(x).__name__}, not a torch.Tensor")
        h.require(tuple(x.shape) == expected, f"sample({n}, ...) has shape {tuple(x.shape)}, expected {expected} "
                  "(n×1×D×H×W at the training shape)")


@contract_check("generators", "sample_dtype", requires=("sample",))
def generator_sample_dtype(h: Checker) -> None:
    """Samples are `torch.float32`."""
    x = _fitted_samples(h)
    h.require(x.dtype == torch.float32, f"samples are {x.dtype}, expected torch.float32")


@contract_check("generators", "sample_finite", requires=("sample",))
def generator_sample_finite(h: Checker) -> None:
    """Samples contain no NaN or ±Inf."""
    x = _fitted_samples(h).double()
    nan, inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
    h.require(nan == inf == 0, f"samples contain {nan} NaN and {inf} ±Inf value(s) of {x.numel()}")


@contract_check("generators", "sample_range", requires=("sample",))
def generator_sample_range(h: Checker) -> None:
    """Every sample value is in [0, 1] (convert from [-1, 1] inside the plugin)."""
    x = _fitted_samples(h).double()
    x = x[torch.isfinite(x)]
    if x.numel():
        lo, hi = float(x.min()), float(x.max())
        h.require(lo >= 0.0 and hi <= 1.0, f"sample values span [{lo:.4g}, {hi:.4g}], not within [0, 1]")


@contract_check("generators", "sample_not_constant", requires=("sample",))
def generator_sample_not_constant(h: Checker) -> None:
    """Samples are not one constant value (their standard deviation is > 0)."""
    x = _fitted_samples(h).double()
    x = x[torch.isfinite(x)]
    h.require(x.numel() > 1 and float(x.std()) > 0, "every sample value is the same constant")


@contract_check("generators", "deterministic_for_seed", requires=("sample",))
def generator_deterministic(h: Checker) -> None:
    """The same seed gives the same samples: `sample(4, seed=0)` twice agrees to within 1e-6."""
    x = _fitted_samples(h)
    again = h.call(f"sample({N_SAMPLES}, seed=0) again", h.plugin.sample, N_SAMPLES, seed=0)
    h.require(isinstance(again, torch.Tensor), f"sample() returned {type(again).__name__} the second time")
    h.require(_same(again, x, SAME_ATOL), lambda: f"sample({N_SAMPLES}, seed=0) twice gave different volumes "
              f"({_difference(again, x)}); draw all randomness from a generator seeded with `seed`")


@contract_check("generators", "seeds_differ", requires=("sample_shape",))
def generator_seeds_differ(h: Checker) -> None:
    """A different seed gives different samples: `sample(3, seed=1)` differs from the first 3 of seed 0."""
    x, other = _fitted_samples(h), _other_seed_samples(h)
    h.require(not torch.allclose(other.double(), x[: N_SAMPLES - 1].double()),
              f"sample({N_SAMPLES - 1}, seed=1) equals the first {N_SAMPLES - 1} volumes of seed 0: "
              "the seed is ignored")


@contract_check("generators", "checkpoint_no_pickles", requires=("fit",))
def generator_checkpoint_no_pickles(h: Checker) -> str:
    """`save(folder)` writes its checkpoint with no pickle or `torch.save` file (loading must not run code):
    use safetensors and JSON."""
    folder = _checkpoint(h)
    bad = no_pickles(folder)
    h.require(not bad, f"save() wrote pickles: {', '.join(bad)}; use safetensors / JSON")
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return f"{len(files)} file(s), {sum(p.stat().st_size for p in files)} bytes"


@contract_check("generators", "save_load_round_trip", requires=("deterministic_for_seed",))
def generator_round_trip(h: Checker) -> None:
    """`load(folder)` into a fresh instance built from `config()["params"]` restores the fitted state: it
    samples the same volumes for seed 0 (within 1e-6)."""
    folder = _checkpoint(h)
    fresh = h.call("building a fresh instance from config()['params']", h.build, h.plugin.config()["params"])
    h.call("load() into a fresh instance", fresh.load, folder)
    y = h.call(f"sample({N_SAMPLES}, seed=0) after load()", fresh.sample, N_SAMPLES, seed=0)
    h.require(isinstance(y, torch.Tensor), f"sample() after load() returned {type(y).__name__}")
    h.require(_same(y, _fitted_samples(h), SAME_ATOL), lambda: "a fresh instance loaded from the checkpoint samples "
              f"other volumes for seed 0 ({_difference(y, _fitted_samples(h))}): save() misses some fitted state")


@contract_check("generators", "sampler_info_json", requires=("fit",))
def generator_sampler_info(h: Checker) -> None:
    """`sampler_info()` is a dict that survives JSON (it is stored with every score)."""
    info = h.call("sampler_info()", h.plugin.sampler_info)
    h.require(isinstance(info, dict), f"sampler_info() returned {type(info).__name__}, not a dict")
    try:
        json.dumps(info)
    except (TypeError, ValueError) as exc:
        raise h.fail(f"sampler_info() is not JSON: {exc}") from None


# ------------------------------------------------------------------------ conditional generators
def _conditions(h: Checker) -> tuple[str, ...]:
    keys = h.memo("conditions", lambda: h.call("conditions()", h.plugin.conditions))
    h.require(isinstance(keys, tuple) and all(isinstance(k, str) for k in keys),
              f"conditions() returned {keys!r}, not a tuple of metadata keys")
    return keys


def _two_conditions(h: Checker) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metadata of two training scans, of two different conditions when the generator conditions on them."""
    rows = list(h.cohorts["train"].metadata)
    if "condition" not in _conditions(h):
        return rows[0], rows[1]
    first = {str(m.get("condition")): m for m in reversed(rows)}  # the first scan of each condition
    h.require(len(first) >= 2, "the contract's training cohort has fewer than two conditions")
    a, b = (first[c] for c in sorted(first)[:2])
    return a, b


def _condition_table(h: Checker) -> list[dict[str, Any]]:
    a, b = _two_conditions(h)
    return [{**a, EXTRA_KEY: "ignored"}] * N_CONDITIONAL[0] + [{**b, EXTRA_KEY: "ignored"}] * N_CONDITIONAL[1]


def _conditional_samples(h: Checker, seed: int) -> Any:
    n = sum(N_CONDITIONAL)
    return h.memo(f"conditional-seed{seed}", lambda: h.call(
        f"sample_conditional(table of {n}, seed={seed})", h.plugin.sample_conditional, _condition_table(h), seed=seed))


UNCONDITIONAL = "n/a: conditions() is empty (an unconditional generator)"


@contract_check("generators", "conditional_sample", requires=("fit",))
def generator_conditional_sample(h: Checker) -> str:
    """For a generator whose `conditions()` is not empty: `sample_conditional(table, seed=0)` with 3 rows of one
    training condition and 2 of another (their metadata, plus a key it must ignore) is `5×1×D×H×W` float32 in
    [0, 1] and finite."""
    if not _conditions(h):
        return UNCONDITIONAL
    x, n = _conditional_samples(h, 0), sum(N_CONDITIONAL)
    h.require(isinstance(x, torch.Tensor), f"sample_conditional() returned {type(x).__name__}, not a torch.Tensor")
    expected = (n, 1, *h.shape)
    h.require(tuple(x.shape) == expected, f"sample_conditional() of {n} rows has shape {tuple(x.shape)}, "
              f"expected {expected} (one volume per row)")
    h.require(x.dtype == torch.float32, f"conditional samples are {x.dtype}, expected torch.float32")
    h.require(bool(torch.isfinite(x).all()), "conditional samples contain NaN or ±Inf")
    lo, hi = float(x.min()), float(x.max())
    h.require(lo >= 0.0 and hi <= 1.0, f"conditional sample values span [{lo:.4g}, {hi:.4g}], not within [0, 1]")
    return f"conditions {list(_conditions(h))}: {_shape(x)}"


@contract_check("generators", "conditional_deterministic_for_seed", requires=("conditional_sample",))
def generator_conditional_deterministic(h: Checker) -> str | None:
    """The same table and seed give the same conditional samples (within 1e-6); seed 1 gives other ones."""
    if not _conditions(h):
        return UNCONDITIONAL
    x = _conditional_samples(h, 0)
    again = h.call("sample_conditional(seed=0) again", h.plugin.sample_conditional, _condition_table(h), seed=0)
    h.require(isinstance(again, torch.Tensor) and _same(again, x, SAME_ATOL), lambda: "sample_conditional() "
              f"twice with the same table and seed gave different volumes ({_difference(again, x)})")
    other = _conditional_samples(h, 1)
    h.require(isinstance(other, torch.Tensor) and other.shape == x.shape and not torch.allclose(other, x),
              "sample_conditional() with seed 1 equals seed 0: the seed is ignored")
    return None


def _unusable_row(h: Checker) -> tuple[dict[str, Any], str]:
    """A row it cannot produce: a known condition not in the training cohort, else one without a conditioned key."""
    a, _ = _two_conditions(h)
    keys = _conditions(h)
    if "condition" in keys:
        trained = {str(m.get("condition")) for m in h.cohorts["train"].metadata}
        value = next((c for c in ALIASES if c not in trained), "no-such-condition")
        return {**a, "condition": value}, value
    return {k: v for k, v in a.items() if k != keys[0]}, keys[0]


@contract_check("generators", "conditional_unknown_value", requires=("fit",))
def generator_conditional_unknown(h: Checker) -> str | None:
    """`sample_conditional` with a condition it was not trained on (or a row missing a conditioned key) raises
    one `ConfigError` naming the value (or key)."""
    if not _conditions(h):
        return UNCONDITIONAL
    row, named = _unusable_row(h)
    try:
        h.plugin.sample_conditional([row], seed=0)
    except ConfigError as exc:
        h.require(named in str(exc) and "\n" not in str(exc),
                  f"the ConfigError does not name {named!r} in one line: {exc}")
        return f"{named!r}: {exc.message}"
    except Exception as exc:
        raise h.fail(f"sample_conditional() of a row with {named!r} raised {h.describe(exc)}, "
                     "expected a ConfigError") from exc
    raise h.fail(f"sample_conditional() accepted a row with {named!r}, which it cannot produce")


# ==================================================================================== metrics
def _metric_ctx(h: Checker) -> MetricContext:
    return h.memo("metric-ctx", lambda: MetricContext(seed=0, device="cpu", cache_dir=h.folder("metric-cache"),
                                                      real_fingerprint="contract-real-set"))


def _score_once(h: Checker, label: str) -> Any:
    c = h.cohorts
    train = c["train"] if getattr(h.cls, "needs_train", False) else None
    return h.call(label, h.plugin.score, c["synthetic"], c["test"], train, _metric_ctx(h))


def _results_of(h: Checker, out: Any) -> dict[str, MetricResult]:
    """A metric returns one MetricResult or a non-empty dict of named ones; normalise to a dict."""
    if isinstance(out, MetricResult):
        return {"": out}
    h.require(isinstance(out, dict) and out, f"score() returned {type(out).__name__}, not a MetricResult or a "
              "non-empty dict of them")
    for key, res in out.items():
        h.require(isinstance(key, str) and key, f"sub-result key {key!r} must be a non-empty string")
        h.require(isinstance(res, MetricResult), f"sub-result '{key}' is {type(res).__name__}, not a MetricResult")
    return out


def _scores(h: Checker) -> dict[str, MetricResult]:
    return h.memo("scores", lambda: _results_of(h, _score_once(h, "score()")))


@contract_check("metrics", "metadata")
def metric_metadata(h: Checker) -> str:
    """`higher_is_better` and `needs_train` are bools, `version` is a non-empty string, and `config()`
    records that version."""
    cls: Any = h.cls  # a Metric subclass (checked by the import check); typed as Plugin
    h.require(isinstance(cls.higher_is_better, bool), f"higher_is_better is {cls.higher_is_better!r}, not a bool")
    h.require(cls.kind in METRIC_KINDS, f"kind is {cls.kind!r}, not one of {', '.join(METRIC_KINDS)}")
    h.require(isinstance(cls.needs_train, bool), f"needs_train is {cls.needs_train!r}, not a bool")
    h.require(isinstance(cls.version, str) and cls.version, f"version is {cls.version!r}, not a non-empty string")
    h.require(h.plugin.config()["version"] == cls.version,
              f"config() records version {h.plugin.config()['version']!r}, the class says {cls.version!r}")
    return f"{'higher' if cls.higher_is_better else 'lower'} is better, needs_train={cls.needs_train}"


@contract_check("metrics", "score")
def metric_score(h: Checker) -> str:
    """`score(synthetic 6, real 8, train 10 if needs_train, ctx)` on tiny sets of unequal size returns a
    `MetricResult` or a non-empty dict of them with non-empty string keys."""
    results = _scores(h)
    return ", ".join(f"{k or 'value'}={r.value:.4g}" if isinstance(r.value, (int, float)) and r.status == "ok"
                     else f"{k or 'value'} {r.status}" for k, r in results.items())


@contract_check("metrics", "result_values", requires=("score",))
def metric_result_values(h: Checker) -> None:
    """Each result is `ok` with a finite number (a finite `low ≤ high` CI if any, a finite reference if any,
    a dict of details) or `skipped` with a message; `higher_is_better` per result is None or a bool."""
    for key, res in _scores(h).items():
        where = f"result '{key}'" if key else "result"
        h.require(res.status in ("ok", "skipped"), f"{where}: status {res.status!r} ({res.message})")
        h.require(res.higher_is_better is None or isinstance(res.higher_is_better, bool),
                  f"{where}: higher_is_better {res.higher_is_better!r}")
        if res.status == "skipped":
            h.require(isinstance(res.message, str) and res.message.strip(), f"{where}: skipped without a message")
            continue
        h.require(isinstance(res.value, (int, float)) and not isinstance(res.value, bool),
                  f"{where}: value {res.value!r}")
        h.require(res.value is not None and math.isfinite(res.value), f"{where}: value {res.value}")
        if res.ci is not None:
            try:
                lo, hi = res.ci
                ok = math.isfinite(lo) and math.isfinite(hi) and lo <= hi
            except (TypeError, ValueError):
                ok = False
            h.require(ok, f"{where}: ci {res.ci}")
        if res.reference is not None:
            h.require(math.isfinite(res.reference), f"{where}: reference {res.reference}")
        h.require(isinstance(res.details, dict), f"{where}: details is {type(res.details).__name__}, not a dict")


@contract_check("metrics", "deterministic_for_seed", requires=("score",))
def metric_deterministic(h: Checker) -> None:
    """Scoring again with the same `ctx.seed` (and a warm `ctx.cache_dir`) gives the same status, value and CI."""
    first = _scores(h)
    second = _results_of(h, _score_once(h, "score() again"))
    h.require(first.keys() == second.keys(), f"the results changed keys: {sorted(first)} then {sorted(second)}")
    for key in first:
        a, b = first[key], second[key]
        h.require(a.status == b.status and _same_numbers(a.value, b.value) and _same_numbers(a.ci, b.ci),
                  f"result '{key}' changed between calls: {(a.status, a.value, a.ci)} then {(b.status, b.value, b.ci)}")


# ============================================================================== preprocessors
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
    return f"{_shape(out.array)} {out.array.dtype}"


@contract_check("preprocessors", "input_untouched", requires=("apply",))
def prep_input_untouched(h: Checker) -> None:
    """The input volume is not modified in place (array, affine and metadata as before)."""
    volume, pristine = _applied(h)[0], raw_volume()
    h.require(np.array_equal(volume.array, pristine.array, equal_nan=True),
              lambda: f"the step modified its input array in place ({_difference(volume.array, pristine.array)})")
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
              lambda: f"same input, different output ({_difference(again.array, out.array)})")
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


# =================================================================================== datasets
def _dataset_params(h: Checker, params: dict[str, Any]) -> dict[str, Any]:
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
    return ", ".join(f"{i.subject_id} {_shape(v.array)}" for i, v in _loaded(h))


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
            raise h.fail(f"'{item.subject_id}': load() is not deterministic ({_difference(again.array, vol.array)})")


# =================================================================================== features
def _feature_volumes(h: Checker) -> torch.Tensor:
    return h.memo("feature-volumes", lambda: brain_like(N_FEATURE_VOLUMES, 11, h.shape))


def _features(h: Checker) -> Any:
    return h.memo("features", lambda: h.call(f"extract({N_FEATURE_VOLUMES} volumes)", h.plugin.extract,
                                             _feature_volumes(h), device="cpu"))


@contract_check("features", "extract")
def feature_extract(h: Checker) -> str:
    """`extract(volumes, device="cpu")` on 5 tiny brain-like volumes returns a numpy array (pretrained weights
    that are not on the machine skip the checks: `MissingWeightsError`)."""
    x = _features(h)
    h.require(isinstance(x, np.ndarray), f"extract() returned {type(x).__name__}, not a numpy array")
    return f"{_shape(x)} {x.dtype}"


@contract_check("features", "output_shape", requires=("extract",))
def feature_shape(h: Checker) -> None:
    """The features are `N×F`: one row per volume, F ≥ 1."""
    x = _features(h)
    h.require(x.ndim == 2 and x.shape[0] == N_FEATURE_VOLUMES and x.shape[1] >= 1,
              f"features have shape {x.shape}, expected ({N_FEATURE_VOLUMES}, F ≥ 1)")


@contract_check("features", "output_dtype", requires=("extract",))
def feature_dtype(h: Checker) -> None:
    """The features are float64."""
    h.require(_features(h).dtype == np.float64, f"features are {_features(h).dtype}, expected float64")


@contract_check("features", "output_finite", requires=("extract",))
def feature_finite(h: Checker) -> None:
    """The features have no NaN or ±Inf."""
    x = np.asarray(_features(h), dtype=np.float64)
    h.require(np.isfinite(x).all(), f"{int((~np.isfinite(x)).sum())} non-finite feature value(s)")


@contract_check("features", "not_constant", requires=("output_shape",))
def feature_not_constant(h: Checker) -> None:
    """Not every volume gets the same features (some feature varies across volumes)."""
    h.require(np.ptp(_features(h), axis=0).max() > 0, "every volume got the same features")


@contract_check("features", "deterministic", requires=("extract",))
def feature_deterministic(h: Checker) -> None:
    """Extracting again from the same volumes gives identical features."""
    again = h.call("extract() again", h.plugin.extract, _feature_volumes(h), device="cpu")
    h.require(np.array_equal(np.asarray(again), _features(h)),
              lambda: f"extract() twice gave different features ({_difference(again, _features(h))})")


@contract_check("features", "no_batch_effects", requires=("output_shape",))
def feature_no_batch_effects(h: Checker) -> None:
    """One volume at a time gives the same row as in the batch (rtol 1e-5, atol 1e-8)."""
    one = h.call("extract(one volume)", h.plugin.extract, _feature_volumes(h)[2:3], device="cpu")
    row = _features(h)[2:3]
    h.require(np.shape(one) == row.shape and np.allclose(one, row, rtol=1e-5, atol=1e-8),
              lambda: f"volume 3 alone gets other features than in the batch ({_difference(one, row)})")


@contract_check("features", "weights_sha256")
def feature_weights_sha256(h: Checker) -> str:
    """`weights_sha256()` is None (no pretrained weights) or a 64-character lowercase hex digest."""
    sha = h.call("weights_sha256()", h.plugin.weights_sha256)
    h.require(sha is None or (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)),
              f"weights_sha256() returned {sha!r}")
    return "no weights" if sha is None else sha[:12]


# ================================================================================= every kind
@contract_check(tuple(KINDS), "config_json")
def plugin_config_json(h: Checker) -> None:
    """`config()` survives JSON, names the plugin and a version, and its params parse back into equal
    `Params` (it is stored with every score)."""
    try:
        config = json.loads(json.dumps(h.call("config()", h.plugin.config)))
    except (TypeError, ValueError) as exc:
        raise h.fail(f"config() is not JSON: {exc}") from None
    h.require(config.get("plugin") == h.name, f"config()['plugin'] is {config.get('plugin')!r}, not {h.name!r}")
    h.require(config.get("version"), f"config()['version'] is {config.get('version')!r}")
    try:
        parsed = parse_params(type(h.plugin.params), config.get("params"), "config params")
    except ConfigError as exc:
        raise h.fail(f"config()['params'] does not parse back: {exc}") from None
    h.require(parsed == h.plugin.params, f"config()['params'] parses back to {parsed}, not {h.plugin.params}")
