"""Cohorts on disk (issue 15 item 3): the batch iterator, and every metric's numbers the same for a mapped
set as for the same set in memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchgen import registry
from benchgen.data.mapped import MappedCohort, VolumeFile, write_volumes
from benchgen.errors import DataError
from benchgen.functional.sources import iter_batches
from benchgen.interfaces import MetricContext
from benchgen.score.evaluate import evaluate
from benchgen.volumes import write_nifti

from .conftest import cohort, make_brains


def mapped(tmp_path, arr: np.ndarray, name: str, prefix: str) -> MappedCohort:
    vf = write_volumes(tmp_path / f"{name}.npy", iter(arr), len(arr), arr.shape[1:])
    return MappedCohort(vf, np.eye(4), [f"{prefix}{i:03d}" for i in range(len(arr))])


@pytest.fixture(scope="module")
def sets():
    return {"real": make_brains(9, seed=1), "syn": make_brains(8, seed=2), "train": make_brains(7, seed=3)}


def test_batches_are_the_same_for_memory_and_disk(tmp_path, sets):
    mem, disk = cohort(sets["real"]), mapped(tmp_path, sets["real"], "real", "s")
    got = [(s, b) for s, b in iter_batches(disk, 4)]
    assert [s for s, _ in got] == [0, 4, 8] and [len(b) for _, b in got] == [4, 4, 1]
    assert all(torch.equal(b, mem.data[s:s + len(b)]) for s, b in got)
    assert torch.equal(disk.rows([7, 2, 3]), mem.data[[7, 2, 3]])
    assert torch.equal(disk.columns(100, 300), mem.data.reshape(9, -1)[:, 100:300])
    sub = disk.subset([5, 1])
    assert sub.subject_ids == ["s005", "s001"] and torch.equal(sub.rows([1]), mem.data[[1]])
    assert torch.equal(disk.data, mem.data)  # the whole-set fallback for plugins that do not stream


def test_a_truncated_or_foreign_file_is_one_line(tmp_path):
    np.save(tmp_path / "ints.npy", np.zeros((2, 4, 4, 4), np.int32))
    with pytest.raises(DataError, match="expected N×1×D×H×W float32"):
        VolumeFile(tmp_path / "ints.npy")
    path = write_volumes(tmp_path / "v.npy", iter(np.zeros((3, 4, 4, 4), np.float32)), 3, (4, 4, 4)).path
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        VolumeFile(path)


CASES = {
    "mmd": {"bootstrap": 5},
    "mmd-gauss": {"kernel": "gaussian", "bootstrap": 5},
    "kid": {"subsets": 5, "subset_size": 4, "bootstrap": 5},
    "kid-voxels": {"features": "voxels", "subsets": 5, "subset_size": 4, "bootstrap": 5},
    "frd": {"bootstrap": 5},
    "ms-ssim": {"kernel_size": 3, "scales": 2, "bootstrap": 5},
    "ms-ssim-pairs": {"kernel_size": 3, "scales": 2, "max_pairs": 10, "bootstrap": 5},
    "prdc": {"k": 2, "bootstrap": 5},
    "memorization": {"max_shift": 1, "bootstrap": 5},
    "memorization-l2": {"method": "l2", "bootstrap": 5},
}


def _values(res) -> dict[str, tuple]:
    items = res.items() if isinstance(res, dict) else [("", res)]
    return {k: (r.status, r.message, r.value, r.reference, r.ci) for k, r in items}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mapped_sets_score_like_in_memory_ones(tmp_path, sets, case, monkeypatch):
    monkeypatch.setattr("benchgen.functional.sources.STREAM_BYTES", 4096 * 12 * 24)  # several column chunks
    metric = registry.create("metrics", case.split("-")[0] if case not in ("ms-ssim", "ms-ssim-pairs")
                             else "ms-ssim", CASES[case])
    mem = [cohort(sets[k], p) for k, p in (("syn", "g"), ("real", "r"), ("train", "t"))]
    disk = [mapped(tmp_path, sets[k], k, p) for k, p in (("syn", "g"), ("real", "r"), ("train", "t"))]
    a = _values(metric.score(*mem, MetricContext(seed=3)))
    b = _values(metric.score(*disk, MetricContext(seed=3)))
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][:2] == b[k][:2] == ("ok", None), (a[k], b[k])
        np.testing.assert_allclose(np.array(a[k][2:4], float), np.array(b[k][2:4], float), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.array(a[k][4], float), np.array(b[k][4], float), rtol=1e-9, atol=1e-12)


def test_evaluate_on_folders_reads_through_a_cohort_on_disk(tmp_path, sets, monkeypatch):
    """`benchgen evaluate` converts file sets into cohorts on disk (removed afterwards) and scores them like
    the same volumes handed over in memory."""
    monkeypatch.setenv("BENCHGEN_CACHE", str(tmp_path / "cache"))
    for role, arr in sets.items():
        for i, v in enumerate(arr):
            write_nifti(tmp_path / role / f"{role}{i:02d}.nii", v, np.eye(4))
    params = {"mmd": {"bootstrap": 0}, "ms-ssim": {"kernel_size": 3, "scales": 2, "bootstrap": 0},
              "memorization": {"max_shift": 1, "bootstrap": 0}}
    files = evaluate(tmp_path / "real", tmp_path / "syn", list(params), tmp_path / "train", params)
    arrays = evaluate(sets["real"], sets["syn"], list(params), sets["train"], params)
    assert not list((tmp_path / "cache" / "scratch").iterdir())
    for name, m in arrays["metrics"].items():
        assert files["metrics"][name]["status"] == "ok", files["metrics"][name]["message"]
        assert files["metrics"][name]["value"] == pytest.approx(m["value"], rel=1e-9, abs=1e-12), name


def test_evaluate_reads_a_npy_volume_file_from_disk(tmp_path, sets, monkeypatch):
    monkeypatch.setenv("BENCHGEN_CACHE", str(tmp_path / "cache"))
    for role in ("real", "syn"):
        write_volumes(tmp_path / f"{role}.npy", iter(sets[role]), len(sets[role]), sets[role].shape[1:])
    params = {"mmd": {"bootstrap": 0}}
    disk = evaluate(tmp_path / "real.npy", str(tmp_path / "syn.npy"), ["mmd"], params=params)
    mem = evaluate(sets["real"], sets["syn"], ["mmd"], params=params)
    assert disk["n_real"] == 9 and disk["metrics"]["mmd"]["value"] == pytest.approx(mem["metrics"]["mmd"]["value"])
    bad = sets["syn"] * 2.0
    write_volumes(tmp_path / "bad.npy", iter(bad), len(bad), bad.shape[1:])
    with pytest.raises(DataError, match="outside \\[0, 1\\]"):
        evaluate(tmp_path / "real.npy", tmp_path / "bad.npy", ["mmd"], params=params)


@pytest.mark.parametrize("case", ["mmd", "mmd-gauss"])
def test_voxel_mmd_never_loads_a_set_on_disk_whole(tmp_path, sets, case, monkeypatch):
    """Both kernels read the voxels of a mapped set in column chunks (the gaussian one from the streamed
    linear Gram), never through the whole-set `data` fallback."""
    def whole(self):
        raise AssertionError("a mapped set was loaded whole")

    monkeypatch.setattr(MappedCohort, "data", property(whole))
    metric = registry.create("metrics", "mmd", CASES[case])
    disk = [mapped(tmp_path, sets[k], k, p) for k, p in (("syn", "g"), ("real", "r"))]
    assert metric.score(*disk, None, MetricContext(seed=3)).status == "ok"
