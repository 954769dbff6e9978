"""The contract checks of generators: fit, sample, determinism, the checkpoint round trip, conditional sampling."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from benchgen.conditions import ALIASES
from benchgen.errors import ConfigError
from benchgen.fit.saving import load_fitted, save_fitted
from benchgen.interfaces import FitContext
from benchgen.testing.checks import every_kind  # noqa: F401  (import and build run first)
from benchgen.testing.checks.shared import EXTRA_KEY, N_CONDITIONAL, N_SAMPLES, SAME_ATOL, difference, same, shape_of
from benchgen.testing.core import Checker, contract_check
from benchgen.testing.data import no_pickles


def _fitted_samples(h: Checker) -> Any:
    return h.memo("samples", lambda: h.call(f"sample({N_SAMPLES}, seed=0)", h.plugin.sample, N_SAMPLES, seed=0))


def _other_seed_samples(h: Checker) -> Any:
    n = N_SAMPLES - 1
    return h.memo("samples-seed1", lambda: h.call(f"sample({n}, seed=1)", h.plugin.sample, n, seed=1))


def _checkpoint(h: Checker) -> Any:
    """The fitted generator saved as a run saves it (:func:`benchgen.fit.saving.save_fitted`: `save` into a fresh
    folder, its generator.json beside, the folder moved into place)."""
    def save() -> Any:
        folder = h.folder("checkpoint", create=False)
        description = {**h.call("config()", h.plugin.config), "shape": list(h.shape),
                       "affine": np.asarray(h.cohorts["train"].affine).tolist()}
        h.call("save()", save_fitted, h.plugin, folder, description)
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
    return f"{shape_of(x)} {str(x.dtype).removeprefix('torch.')}"


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
    h.require(same(again, x, SAME_ATOL), lambda: f"sample({N_SAMPLES}, seed=0) twice gave different volumes "
              f"({difference(again, x)}); draw all randomness from a generator seeded with `seed`")


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
    samples the same volumes for seed 0 (within 1e-6). Saved and loaded the way a run does: `save` writes into
    a folder that is then moved, and `load` reads it at its new place, its weights' checksum checked."""
    folder = _checkpoint(h)
    fresh = h.call("building a fresh instance from config()['params']", h.build, h.plugin.config()["params"])
    h.call("load() into a fresh instance", load_fitted, fresh, folder)
    y = h.call(f"sample({N_SAMPLES}, seed=0) after load()", fresh.sample, N_SAMPLES, seed=0)
    h.require(isinstance(y, torch.Tensor), f"sample() after load() returned {type(y).__name__}")
    h.require(same(y, _fitted_samples(h), SAME_ATOL), lambda: "a fresh instance loaded from the checkpoint samples "
              f"other volumes for seed 0 ({difference(y, _fitted_samples(h))}): save() misses some fitted state")


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
    return f"conditions {list(_conditions(h))}: {shape_of(x)}"


@contract_check("generators", "conditional_deterministic_for_seed", requires=("conditional_sample",))
def generator_conditional_deterministic(h: Checker) -> str | None:
    """The same table and seed give the same conditional samples (within 1e-6); seed 1 gives other ones."""
    if not _conditions(h):
        return UNCONDITIONAL
    x = _conditional_samples(h, 0)
    again = h.call("sample_conditional(seed=0) again", h.plugin.sample_conditional, _condition_table(h), seed=0)
    h.require(isinstance(again, torch.Tensor) and same(again, x, SAME_ATOL), lambda: "sample_conditional() "
              f"twice with the same table and seed gave different volumes ({difference(again, x)})")
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
