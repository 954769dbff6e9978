"""Contract checks for benchgen plugins, usable from any test suite (and by `benchgen check NAME`).

Every plugin kind has an ordered list of named checks (:data:`CHECKS`), each a plain function that raises
:class:`ContractFailure` (an ``AssertionError``) when the plugin breaks its contract. Run them on an
installed plugin (by name) or on a plugin class::

    from benchgen.testing import assert_passed, check_generator

    def test_my_generator_contract():
        assert_passed(check_generator("my-generator"))          # or check_generator(MyGenerator)

or one pytest test per check, fitting once (a :class:`Checker` caches what its checks share)::

    import pytest
    from benchgen.testing import Checker, check_names

    @pytest.fixture(scope="module")
    def checker():
        with Checker("generators", "my-generator") as c:
            yield c

    @pytest.mark.parametrize("check", check_names("generators"))
    def test_contract(checker, check):
        checker.expect(check)  # ContractFailure on failure, a skip for a real reason (missing weights)

Plugins are built with their ``tiny_params`` (updated by ``params``) and run on tiny brain-like inputs
(:mod:`benchgen.testing.data`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from benchgen.interfaces import Plugin
from benchgen.testing import checks as _checks  # noqa: F401  (registers the checks)
from benchgen.testing.checks.preprocessors import variations
from benchgen.testing.core import (
    CHECKS,
    Check,
    Checker,
    CheckResult,
    CheckSkipped,
    ContractFailure,
    assert_passed,
    check_names,
    contract_check,
    find_kind,
    normalize_kind,
    run_checks,
)
from benchgen.testing.data import (
    FILE_INPUTS,
    PATH_PARAMS,
    SHAPE,
    bids_tree,
    brain_like,
    manifest_csv,
    nifti_folder,
    no_pickles,
    raw_volume,
    tiny_cohort,
    tiny_cohorts,
)

PluginRef = str | type[Plugin]


def check_generator(plugin: PluginRef, params: Mapping[str, Any] | None = None, shape: Sequence[int] = SHAPE,
                    **kwargs: Any) -> list[CheckResult]:
    """Every generator check (fit, sample shape/dtype/range/finite, seeding, save/load, config...)."""
    return run_checks("generators", plugin, params, shape=shape, **kwargs)


def check_metric(plugin: PluginRef, params: Mapping[str, Any] | None = None, shape: Sequence[int] = SHAPE,
                 **kwargs: Any) -> list[CheckResult]:
    """Every metric check (metadata, score results, same seed → same numbers, config)."""
    return run_checks("metrics", plugin, params, shape=shape, **kwargs)


def check_preprocessor(plugin: PluginRef, params: Mapping[str, Any] | None = None, shape: Sequence[int] = SHAPE,
                       **kwargs: Any) -> list[CheckResult]:
    """Every preprocessing-step check (Volume -> Volume, input untouched, deterministic, fingerprint)."""
    return run_checks("preprocessors", plugin, params, shape=shape, **kwargs)


def check_dataset(plugin: PluginRef, params: Mapping[str, Any] | None = None, shape: Sequence[int] = SHAPE,
                  **kwargs: Any) -> list[CheckResult]:
    """Every dataset-source check (items unique and stable, load gives the item's finite 3D volume)."""
    return run_checks("datasets", plugin, params, shape=shape, **kwargs)


def check_feature(plugin: PluginRef, params: Mapping[str, Any] | None = None, shape: Sequence[int] = SHAPE,
                  **kwargs: Any) -> list[CheckResult]:
    """Every feature-extractor check (N×F float64, finite, deterministic, no batch effects)."""
    return run_checks("features", plugin, params, shape=shape, **kwargs)


def describe_checks(kind: str) -> list[tuple[str, str]]:
    """(name, what it demands) of every check of `kind`, in order."""
    return [(c.name, c.doc) for c in CHECKS[normalize_kind(kind)]]


__all__ = [
    "CHECKS", "FILE_INPUTS", "PATH_PARAMS", "SHAPE", "Check", "CheckResult", "CheckSkipped", "Checker",
    "ContractFailure", "assert_passed", "bids_tree", "brain_like", "check_dataset", "check_feature",
    "check_generator", "check_metric", "check_names", "check_preprocessor", "contract_check", "describe_checks",
    "find_kind", "manifest_csv", "nifti_folder", "no_pickles", "normalize_kind", "raw_volume", "run_checks",
    "tiny_cohort", "tiny_cohorts", "variations",
]
