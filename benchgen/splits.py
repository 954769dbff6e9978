"""Deterministic subject-level splits: every scan of a subject lands in one split only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchgen.errors import DataError
from benchgen.volumes import Cohort


@dataclass
class Splits:
    train: Cohort
    val: Cohort | None
    test: Cohort


def assign_subjects(subject_ids: list[str], fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Indices of the volumes in each split. Subjects are shuffled by `seed`; counts follow `fractions`
    (largest remainder), and every split with a positive fraction gets at least one subject."""
    subjects = sorted(set(subject_ids))
    names = [n for n in ("train", "val", "test") if fractions.get(n, 0) > 0]
    if len(subjects) < len(names):
        raise DataError(f"{len(subjects)} subjects cannot fill {len(names)} splits ({', '.join(names)})")
    order = np.random.default_rng(seed).permutation(len(subjects))
    raw = np.array([fractions[n] * len(subjects) for n in names])
    counts = np.maximum(np.floor(raw).astype(int), 1)
    while counts.sum() < len(subjects):  # hand out the remainder to the largest fractional parts
        counts[int(np.argmax(raw - counts))] += 1
    while counts.sum() > len(subjects):
        counts[int(np.argmax(counts))] -= 1
    bounds = np.concatenate([[0], np.cumsum(counts)])
    split_of = {subjects[order[j]]: name for i, name in enumerate(names) for j in range(bounds[i], bounds[i + 1])}
    out: dict[str, list[int]] = {n: [] for n in names}
    for idx, sid in enumerate(subject_ids):
        out[split_of[sid]].append(idx)
    check_disjoint({n: [subject_ids[i] for i in idx] for n, idx in out.items()})
    return out


def check_disjoint(split_subjects: dict[str, list[str]]) -> None:
    """Fail loudly if a subject appears in two splits (a leak that would flatter every generator)."""
    seen: dict[str, str] = {}
    for name, subjects in split_subjects.items():
        for s in set(subjects):
            if s in seen and seen[s] != name:
                raise DataError(f"subject '{s}' would land in both the {seen[s]} and the {name} split")
            seen[s] = name


def split_cohort(cohort: Cohort, fractions: dict[str, float], seed: int) -> Splits:
    idx = assign_subjects(cohort.subject_ids, fractions, seed)
    return Splits(cohort.subset(idx["train"]), cohort.subset(idx["val"]) if idx.get("val") else None,
                  cohort.subset(idx["test"]))
