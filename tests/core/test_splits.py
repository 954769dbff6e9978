import pytest

from benchgen.data.splits import assign_subjects, check_disjoint
from benchgen.errors import DataError


def test_split_by_subject_deterministic_and_disjoint():
    ids = [f"s{i // 2}" for i in range(100)]  # two scans per subject
    a = assign_subjects(ids, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    b = assign_subjects(ids, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=3)
    c = assign_subjects(ids, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=4)
    assert a == b and a != c
    assert [len(a[k]) for k in ("train", "val", "test")] == [80, 10, 10]
    subjects = {k: {ids[i] for i in v} for k, v in a.items()}
    assert not (subjects["train"] & subjects["test"]) and not (subjects["train"] & subjects["val"])
    assert sorted(i for v in a.values() for i in v) == list(range(100))


def test_each_split_gets_a_subject_and_leak_is_loud():
    a = assign_subjects(["a", "b", "c"], {"train": 0.9, "val": 0.05, "test": 0.05}, seed=0)
    assert all(len(v) == 1 for v in a.values())
    with pytest.raises(DataError, match="subject 'x' would land in both"):
        check_disjoint({"train": ["x", "y"], "test": ["x"]})
