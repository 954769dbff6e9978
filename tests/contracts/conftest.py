"""Shared pieces of the contract tests: one test per named check of `benchgen.testing`, for every
registered plugin of each kind.

The tests are parametrised over *every* plugin the registry finds (``registry.names(kind)``), so a
third-party package installed next to benchgen is checked by the same tests, with no change here:
``pytest tests/contracts -k <plugin name>``. The checks themselves live in :mod:`benchgen.testing`
(shipped with benchgen), so a plugin's own test suite — and ``benchgen check NAME`` — runs the same ones.
"""

from __future__ import annotations

import pytest

from benchgen import registry
from benchgen.testing import Checker, brain_like, check_names, no_pickles, tiny_cohorts

# A test asking for one of these arguments runs once per registered plugin of that kind.
NAME_ARGS = {"generator_name": "generators", "metric_name": "metrics", "preprocessor_name": "preprocessors",
             "dataset_name": "datasets", "feature_name": "features"}


def plugin_names(kind: str) -> list[str]:
    """Every registered plugin of `kind` (read at collection time; listing imports nothing)."""
    registry.refresh()
    return registry.names(kind)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for arg, kind in NAME_ARGS.items():
        if arg in metafunc.fixturenames:
            metafunc.parametrize(arg, plugin_names(kind), scope="module")  # module: fit once per plugin
            if "check" in metafunc.fixturenames:
                metafunc.parametrize("check", check_names(kind))


@pytest.fixture(scope="module")
def checker_for(tmp_path_factory):
    """`checker_for(kind, name)`: a Checker for one plugin, built with its tiny_params; it caches what its
    checks share (a generator is fitted once for all its checks)."""
    made: list[Checker] = []

    def _make(kind: str, name: str) -> Checker:
        made.append(Checker(kind, name, workdir=tmp_path_factory.mktemp(f"{kind}-{name}")))
        return made[-1]

    yield _make
    for checker in made:
        checker.close()


@pytest.fixture(scope="module")
def cohorts():
    """Disjoint tiny splits: train 10, val 6, test 8 (the scoring reference) and a 'synthetic' set of 6."""
    return tiny_cohorts()


@pytest.fixture(scope="session")
def make_brains():
    """`make_brains(n, seed, shape)`: brain-like ``n×1×D×H×W`` volumes in [0, 1]."""
    return brain_like


@pytest.fixture(scope="session")
def pickle_files():
    """`pickle_files(folder)`: files under `folder` that are pickles or torch.save zips."""
    return no_pickles
