"""Contract every registered dataset source passes: items() is cheap and stable, load() gives the
item's volume, deterministically. Sources that read files get a tiny folder made here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from benchgen import registry
from benchgen.interfaces import DataItem, DatasetSource
from benchgen.volumes import Volume, write_nifti

AFFINE = np.diag([6.0, 6.0, 6.0, 1.0])


def _scans(make_brains, n: int = 3) -> list[np.ndarray]:
    return [v[0].numpy() * 500.0 for v in make_brains(n, 21, (10, 12, 10))]


def nifti_folder(root: Path, make_brains) -> Path:
    folder = root / "nifti"
    for i, arr in enumerate(_scans(make_brains)):
        write_nifti(folder / f"subj{i:02d}.nii.gz", arr, AFFINE)
    return folder


def bids_tree(root: Path, make_brains) -> Path:
    folder = root / "bids"
    folder.mkdir()
    (folder / "dataset_description.json").write_text('{"Name": "contract", "BIDSVersion": "1.8.0"}')
    rows = ["participant_id\tage\tsex"]
    for i, arr in enumerate(_scans(make_brains)):
        sub = f"sub-{i + 1:02d}"
        write_nifti(folder / sub / "anat" / f"{sub}_T1w.nii.gz", arr, AFFINE)
        rows.append(f"{sub}\t{40 + i}\t{'F' if i % 2 else 'M'}")
    (folder / "participants.tsv").write_text("\n".join(rows) + "\n")
    return folder


def manifest_csv(root: Path, make_brains) -> Path:
    folder = nifti_folder(root, make_brains)
    lines = ["subject,path,age,sex"]
    lines += [f"s{i},{p},{40 + i},{'F' if i % 2 else 'M'}" for i, p in enumerate(sorted(folder.glob("*.nii.gz")))]
    path = root / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


# Built-in sources that read files: which tiny input to make, and under which parameter name.
FILE_INPUTS: dict[str, Callable[[Path, Any], Path]] = {
    "nifti-folder": nifti_folder, "bids": bids_tree, "manifest": manifest_csv}
PATH_PARAMS = ("root", "path", "folder", "directory", "dir", "manifest", "file", "csv")


def params_for(name: str, cls: type, root: Path, make_brains) -> dict[str, Any]:
    """tiny_params, plus the path parameter pointed at a tiny input for sources that read files.
    Skips (with the reason) a third-party source whose required parameters cannot be guessed."""
    params = dict(cls.tiny_params)
    fields = {f.name: f for f in dataclasses.fields(cls.Params)}
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING and n not in params]
    if name in FILE_INPUTS:
        path_keys = [n for n in fields if n in PATH_PARAMS and n not in params]
        assert path_keys, f"'{name}' reads files but has none of the parameters {PATH_PARAMS}"
        params[path_keys[0]] = str(FILE_INPUTS[name](root, make_brains))
        required = [n for n in required if n != path_keys[0]]
    if required:
        pytest.skip(f"dataset '{name}' needs files named by required params {required}; "
                    "give it tiny_params or a tiny input in FILE_INPUTS")
    return params


def test_items_and_load_agree(dataset_name, load_plugin, make_brains, tmp_path):
    cls, _ = load_plugin("datasets", dataset_name, build=False)
    assert issubclass(cls, DatasetSource)
    source = registry.create("datasets", dataset_name, params_for(dataset_name, cls, tmp_path, make_brains))
    items = source.items()
    assert items and all(isinstance(i, DataItem) for i in items)
    keys = [i.key for i in items]
    assert len(set(keys)) == len(keys), "two items share a content key"
    assert len({i.subject_id for i in items}) == len(items), "two items share a subject id"
    again = registry.create("datasets", dataset_name, dataclasses.asdict(source.params)).items()
    assert [(i.subject_id, i.key) for i in again] == [(i.subject_id, i.key) for i in items], "items() not stable"
    for item in items[:2]:
        vol = source.load(item)
        assert isinstance(vol, Volume) and vol.subject_id == item.subject_id
        assert vol.array.ndim == 3 and min(vol.array.shape) >= 2
        assert np.issubdtype(vol.array.dtype, np.floating) and np.isfinite(vol.array).all()
        assert vol.array.max() > vol.array.min(), "a blank volume"
        assert vol.affine.shape == (4, 4) and np.isfinite(vol.affine).all() and np.linalg.det(vol.affine[:3, :3]) != 0
        np.testing.assert_array_equal(source.load(item).array, vol.array, err_msg="load() is not deterministic")
    assert all(isinstance(i.metadata, dict) for i in items)
