"""Stratified subject splits (`dataset.split.stratify`): every split keeps each stratum's proportions."""

from collections import Counter

import numpy as np
import pytest
import torch

from benchgen.data.splits import assign_subjects, split_cohort
from benchgen.errors import ConfigError, DataError
from benchgen.suite.load import load_suite
from benchgen.volumes import Cohort
from tests.core.conftest import SUITE

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def mixed(counts: dict[str, int], column: str = "condition") -> Cohort:
    labels = [c for c, n in counts.items() for _ in range(n)]
    return Cohort(torch.zeros(len(labels), 1, 2, 2, 2), np.eye(4), [f"s{i:03d}" for i in range(len(labels))],
                  [{column: c} for c in labels])


def test_stratified_splits_keep_the_proportions():
    cohort = mixed({"healthy": 270, "ftd-like": 30, "als-like": 30})
    splits = split_cohort(cohort, FRACTIONS, seed=0, stratify="condition")
    for name, n in (("train", 198), ("val", 66), ("test", 66)):
        part = getattr(splits, name)
        assert len(part) == n
        counts = Counter(m["condition"] for m in part.metadata)
        frac = FRACTIONS[name]
        assert counts == {"healthy": 270 * frac, "ftd-like": 30 * frac, "als-like": 30 * frac}


def test_strata_too_small_to_fill_every_split_is_one_line():
    with pytest.raises(DataError) as exc:
        assign_subjects(["a", "b", "c"], FRACTIONS, 0, ["x", "y", "z"])
    assert exc.value.message == "stratified split: the val split got no subject (3 subjects in 3 strata)"


def test_stratified_is_deterministic_by_subject_and_leaves_unstratified_splits_alone():
    ids = [f"s{i // 2}" for i in range(120)]  # two scans per subject
    strata = ["a" if i < 80 else "b" for i in range(120)]
    a = assign_subjects(ids, FRACTIONS, 3, strata)
    assert a == assign_subjects(ids, FRACTIONS, 3, strata) != assign_subjects(ids, FRACTIONS, 4, strata)
    for idx in a.values():  # both scans of a subject in one split
        assert all(ids[i] in {ids[j] for j in idx} for i in idx)
        assert len(idx) % 2 == 0
    assert assign_subjects(ids, FRACTIONS, 3) == assign_subjects(ids, FRACTIONS, 3, None)


def test_diagnosis_column_and_unknown_value():
    cohort = mixed({"CN": 10, "ALS": 10}, column="diagnosis")
    splits = split_cohort(cohort, FRACTIONS, seed=0, stratify="condition")
    assert Counter(m["diagnosis"] for m in splits.test.metadata) == {"CN": 2, "ALS": 2}
    bad = mixed({"CN": 10, "MCI": 2}, column="diagnosis")
    with pytest.raises(DataError) as exc:
        split_cohort(bad, FRACTIONS, seed=0, stratify="condition")
    assert exc.value.message == ("subject 's010': unknown diagnosis value 'MCI'; allowed: healthy (control, "
                                 "controls, hc, cn, nc, ctrl); ftd-like (ftd, bvftd); als-like (als)")


def test_other_metadata_keys_stratify_too():
    cohort = mixed({"site-0": 40, "site-1": 10}, column="site")
    splits = split_cohort(cohort, FRACTIONS, seed=1, stratify="site")
    assert Counter(m["site"] for m in splits.val.metadata) == {"site-0": 8, "site-1": 2}


def test_suite_split_stratify(fake_registry, suite_file):
    old = "test = 0.25 }"
    assert old in SUITE
    s = load_suite(suite_file(SUITE.replace(old, 'test = 0.25, stratify = "condition" }')), profile="default")
    assert s.split_stratify == "condition" and "stratify" not in s.split
    assert load_suite(suite_file(), profile="default").split_stratify == ""
    with pytest.raises(ConfigError, match="stratify: expected a string"):
        load_suite(suite_file(SUITE.replace(old, "test = 0.25, stratify = 1 }")), profile="default")
