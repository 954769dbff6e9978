"""A suite's data: its dataset source through the preprocessing chain, cached, checked and split.

The dataset fingerprint is made from cheap item keys (no voxels read), once per run: it keys the cohort
cache, the checkpoints and every cell, so a fully cached re-run never touches the voxels.
The cached cohort is an ``N×1×D×H×W`` float32 ``.npy`` read in place (:class:`benchgen.data.mapped.MappedCohort`):
a run holds only the batches it is working on, not the whole cohort.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchgen import paths
from benchgen.atomic import write_text
from benchgen.data.splits import Splits, split_cohort
from benchgen.errors import DataError
from benchgen.hashing import fingerprint
from benchgen.interfaces import DataItem, DatasetSource, PrepContext
from benchgen.progress import ProgressFn, no_progress
from benchgen.suite.model import Suite
from benchgen.volumes import Cohort, Volume


@dataclass
class Data:
    splits: Splits
    fingerprint: str
    failures: list[tuple[str, str]]  # (subject or path, reason) of excluded scans
    # Which draw of the training set (``[evaluation] draws`` > 1): it joins checkpoint and cell keys; None when
    # the suite draws once. The fingerprint stays the listing's: the test split (the reference) is the same.
    draw: int | None = None


@dataclass
class DatasetListing:
    """A suite's source, its items and their fingerprint: listed once, used by planning and loading."""

    source: DatasetSource
    items: list[DataItem]
    fingerprint: str


def list_dataset(suite: Suite) -> DatasetListing:
    """Build the suite's source and list its items (no voxels read)."""
    source = suite.source.build()
    items = source.items()
    if not items:
        raise DataError(f"dataset source '{suite.source.plugin}' found no scans", "check [dataset.params]")
    fields = {"source": suite.source.config(), "items": [i.key for i in items],
              "steps": [s.config() for s in suite.steps], "shape": suite.shape,
              "first_volume": suite.first_volume, "split": suite.split, "split_seed": suite.split_seed}
    if suite.split_stratify:  # only when set: fingerprints of suites without it stay as they were
        fields["split_stratify"] = suite.split_stratify
    fp = fingerprint(fields)
    return DatasetListing(source, items, fp)


def conform_check(volumes: list[Volume], shape: tuple[int, int, int]) -> tuple[list[Volume], list[tuple[str, str]]]:
    """Keep volumes at the suite's shape, finite, in [0, 1]; the rest are reported, not fatal."""
    good, bad = [], []
    for v in volumes:
        where = v.source or v.subject_id
        if tuple(v.array.shape) != tuple(shape):
            bad.append((where, f"shape {v.array.shape} after preprocessing, expected {tuple(shape)}; "
                               "add 'crop-pad' and 'resize' steps"))
        elif not np.isfinite(v.array).all():
            bad.append((where, "NaN or Inf voxels after preprocessing"))
        elif v.array.min() < -1e-4 or v.array.max() > 1 + 1e-4:
            bad.append((where, f"values in [{v.array.min():.3g}, {v.array.max():.3g}] after preprocessing, "
                               "expected [0, 1]; end the chain with 'scale-01'"))
        else:
            good.append(v)
    return good, bad


def load_data(suite: Suite, progress: ProgressFn = no_progress, use_cache: bool = True,
              listing: DatasetListing | None = None, draw: int | None = None) -> Data:
    """Load the suite's dataset through its preprocessing chain (cached), then split it by subject.
    Pass the run's `listing` to avoid listing the source a second time. `draw` (a suite with ``draws`` > 1)
    picks which draw of the training set the splits hold (the test split is the same for all)."""
    from benchgen.data.preprocessing import process_items

    listing = listing or list_dataset(suite)
    stem = paths.cache_dir("datasets") / f"{suite.source.plugin}-{listing.fingerprint}"
    cached = read_cohort_cache(stem) if use_cache else None
    if cached is None:
        steps = [s.build() for s in suite.steps]
        ctx = PrepContext(target_shape=suite.shape, first_volume=suite.first_volume)
        volumes, failures = process_items(listing.source, steps, ctx, jobs=suite.jobs, progress=progress,
                                          items=listing.items)
        volumes, bad = conform_check(volumes, suite.shape)
        fails = [(f.path or f.subject_id, f.reason) for f in failures] + bad
        if not volumes:
            first = f" ({len(fails)} failed; first: {fails[0][0]}: {fails[0][1]})" if fails else ""
            raise DataError(f"no usable scans from dataset source '{suite.source.plugin}'{first}")
        write_cohort_cache(volumes, fails, stem)
        cached = read_cohort_cache(stem)
        if cached is None:
            raise DataError(f"{stem}.npy: the cohort cache just written cannot be read back",
                            "check that disk; remove the folder and run again")
    cohort, fails = cached
    splits = split_cohort(cohort, suite.split, suite.split_seed, suite.split_stratify, draw or 0)
    return Data(splits, listing.fingerprint, fails, draw)


# ------------------------------------------------------------------------------------ cohort cache
def write_cohort_cache(volumes: list[Volume], failures: list[tuple[str, str]], stem: Path) -> None:
    """Voxels in a ``.npy`` volume file (written one volume at a time, no stacked copy; each must have the
    first one's shape, as :func:`conform_check` ensures) + metadata in JSON, each written to a temp name and
    renamed."""
    from benchgen.data.mapped import write_volumes

    write_volumes(str(stem) + ".npy", (v.array for v in volumes), len(volumes), volumes[0].array.shape)
    meta = {"affine": np.asarray(volumes[0].affine).tolist(), "subject_ids": [v.subject_id for v in volumes],
            "metadata": [dict(v.metadata) for v in volumes], "failures": failures}
    write_text(str(stem) + ".json", json.dumps(meta))  # written last: the JSON marks the entry complete


def read_cohort_cache(stem: Path) -> tuple[Cohort, list[tuple[str, str]]] | None:
    """The cached cohort, mapped from disk; None when there is none — or when the entry is damaged (a
    truncated file, a disk error): then it is removed, so the caller recomputes and rewrites it."""
    from benchgen.data.mapped import MappedCohort, VolumeFile

    files = [Path(str(stem) + ".json"), Path(str(stem) + ".npy")]
    if not all(f.is_file() for f in files):
        return None
    try:
        meta: dict[str, Any] = json.loads(files[0].read_text())
        cohort = MappedCohort(VolumeFile(files[1]), np.asarray(meta["affine"]), meta["subject_ids"], meta["metadata"])
        return cohort, [(str(a), str(b)) for a, b in meta["failures"]]
    except Exception:  # DataError of a truncated .npy, JSON, missing keys, mismatched lengths: all "damaged"
        for f in files:
            with contextlib.suppress(OSError):
                f.unlink()
        return None
