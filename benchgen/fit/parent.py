"""A transfer-learned generator's parent, resolved as its own step before the child's fit: the ``parent``
folder a suite names, or its ``pretrain`` generator fitted (or loaded) on that table's dataset, like any
generator. The child's fit then receives a folder; it never builds a second suite or cohort itself."""

from __future__ import annotations

from pathlib import Path

from benchgen.data.load import load_data
from benchgen.fit.fit import fit_or_load
from benchgen.progress import ProgressFn, no_progress
from benchgen.suite.model import PluginSpec, Suite


def resolve_parent(spec: PluginSpec, suite: Suite, device: str, progress: ProgressFn = no_progress) -> Path | None:
    """The checkpoint folder `spec` starts from, or None for a generator without a parent."""
    if spec.parent is None:
        return None
    if spec.parent.path is not None:
        return spec.parent.path
    parent_spec = spec.parent.spec
    assert parent_spec is not None  # a Parent has a path or a spec
    parent_suite = spec.parent.suite(suite)
    progress(f"{spec.label}: its parent {parent_spec.label} first", 0, 1)
    _, folder = fit_or_load(parent_spec, load_data(parent_suite, progress), parent_suite, device, progress)
    return folder
