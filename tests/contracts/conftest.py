"""Shared pieces of the contract tests: tiny cohorts and the list of registered plugins per kind.

The tests are parametrised over *every* plugin the registry finds (``registry.names(kind)``), so a
third-party package installed next to benchgen is checked by the same tests, with no change here:
``pytest tests/contracts -k <plugin name>``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchgen import registry
from benchgen.errors import BenchgenError
from benchgen.volumes import Cohort

SHAPE = (8, 12, 8)


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
            metafunc.parametrize(arg, plugin_names(kind), scope="module")  # module: fit once


def load_or_fail(kind: str, name: str) -> type:
    """The plugin's class; a broken or conflicting plugin fails its contract with the registry's message."""
    try:
        return registry.load_class(kind, name)
    except BenchgenError as exc:
        message = f"{kind[:-1]} '{name}' cannot be loaded: {exc}"
    pytest.fail(message, pytrace=False)  # outside `except`: one line, no chained traceback


@pytest.fixture(scope="session")
def load_plugin():
    """`load_plugin(kind, name)` -> (class, instance built with the class's tiny_params);
    `build=False` gives (class, None) for plugins that need more than tiny_params."""
    def _load(kind: str, name: str, build: bool = True):
        cls = load_or_fail(kind, name)
        return cls, (registry.create(kind, name, dict(cls.tiny_params)) if build else None)
    return _load


def brain_like(n: int, seed: int, shape: tuple[int, int, int] = SHAPE) -> torch.Tensor:
    """``n×1×D×H×W`` float32 in [0, 1]: a bright ellipsoid 'brain' with a darker core and a little noise,
    its size, position and contrast varying per volume, zero background (like skull-stripped scans)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    out = np.zeros((n, 1, *shape), np.float32)
    for i in range(n):
        centre = rng.normal(0, 0.05, 3)[:, None, None, None]
        radii = rng.uniform(0.7, 0.9, 3)[:, None, None, None]
        r = np.sqrt((((grid - centre) / radii) ** 2).sum(0))
        brain = r < 1
        vol = np.where(r < rng.uniform(0.3, 0.5), rng.uniform(0.3, 0.5), rng.uniform(0.6, 0.9))
        vol = vol + rng.normal(0, 0.03, shape)
        out[i, 0] = np.clip(np.where(brain, vol, 0.0), 0, 1)
    return torch.from_numpy(out)


def tiny_cohort(n: int, seed: int, prefix: str) -> Cohort:
    return Cohort(brain_like(n, seed), np.diag([4.0, 4.0, 4.0, 1.0]), [f"{prefix}-{i:02d}" for i in range(n)],
                  [{"age": 40.0 + i, "sex": "F" if i % 2 else "M"} for i in range(n)])


@pytest.fixture(scope="module")
def cohorts() -> dict[str, Cohort]:
    """Disjoint tiny splits: train 10, val 6, test 8 (the scoring reference) and a 'synthetic' set of 6."""
    return {"train": tiny_cohort(10, 1, "train"), "val": tiny_cohort(6, 2, "val"),
            "test": tiny_cohort(8, 3, "test"), "synthetic": tiny_cohort(6, 4, "synth")}


@pytest.fixture(scope="session")
def make_brains():
    """`make_brains(n, seed, shape)`: brain-like ``n×1×D×H×W`` volumes in [0, 1]."""
    return brain_like


def no_pickles(folder) -> list[str]:
    """Files under `folder` that are pickles or torch.save zips (a checkpoint must not execute code)."""
    bad = []
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        head = f.read_bytes()[:4]
        if head[:1] == b"\x80" or head == b"PK\x03\x04":
            bad.append(f.name)
    return bad


@pytest.fixture(scope="session")
def pickle_files():
    return no_pickles
