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


def assign_subjects(subject_ids: list[str], fractions: dict[str, float], seed: int,
                    strata: list[str] | None = None) -> dict[str, list[int]]:
    """Indices of the volumes in each split. Subjects are shuffled by `seed`; counts follow `fractions`
    (largest remainder), and every split with a positive fraction gets at least one subject.

    `strata` (one label per volume, e.g. its condition) splits each stratum by `fractions` on its own, so
    every split keeps the cohort's proportions; a subject's stratum is that of its first volume."""
    subjects = sorted(set(subject_ids))
    names = [n for n in ("train", "val", "test") if fractions.get(n, 0) > 0]
    if len(subjects) < len(names):
        raise DataError(f"{len(subjects)} subjects cannot fill {len(names)} splits ({', '.join(names)})")
    raw_fractions = np.array([fractions[n] for n in names])
    if strata is None:
        order = np.random.default_rng(seed).permutation(len(subjects))
        groups = [[subjects[j] for j in order]]
    else:
        first: dict[str, str] = {}
        for sid, label in zip(subject_ids, strata):
            first.setdefault(sid, label)
        rng = np.random.default_rng(seed)
        groups = []
        for label in sorted(set(first.values())):
            members = [s for s in subjects if first[s] == label]
            groups.append([members[j] for j in rng.permutation(len(members))])
    split_of: dict[str, str] = {}
    for members in groups:
        counts = _split_counts(len(members), raw_fractions, at_least_one=strata is None)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        split_of.update({members[j]: name for i, name in enumerate(names) for j in range(bounds[i], bounds[i + 1])})
    out: dict[str, list[int]] = {n: [] for n in names}
    for idx, sid in enumerate(subject_ids):
        out[split_of[sid]].append(idx)
    empty = [n for n in names if not out[n]]
    if empty:
        raise DataError(f"stratified split: the {empty[0]} split got no subject ({len(subjects)} subjects in "
                        f"{len(groups)} strata)", "add subjects, or drop split.stratify")
    check_disjoint({n: [subject_ids[i] for i in idx] for n, idx in out.items()})
    return out


def _split_counts(n: int, fractions: np.ndarray, at_least_one: bool) -> np.ndarray:
    """`n` subjects shared out by `fractions` (largest remainder); with `at_least_one`, none gets 0."""
    raw = fractions * n
    counts = np.floor(raw).astype(int)
    if at_least_one:
        counts = np.maximum(counts, 1)
    while counts.sum() < n:  # hand out the remainder to the largest fractional parts
        counts[int(np.argmax(raw - counts))] += 1
    while counts.sum() > n:
        counts[int(np.argmax(counts))] -= 1
    return counts


def subject_strata(cohort: Cohort, key: str) -> list[str]:
    """One stratum label per volume: its condition (``key = "condition"``, read and checked by
    :mod:`benchgen.conditions`) or its metadata value under `key`; a missing value is the stratum "n/a"."""
    if key == "condition":
        from benchgen.conditions import conditions_of

        return [c or "n/a" for c in conditions_of(cohort.subject_ids, cohort.metadata)]
    return ["n/a" if m.get(key) is None else str(m[key]) for m in cohort.metadata]


def check_disjoint(split_subjects: dict[str, list[str]]) -> None:
    """Fail loudly if a subject appears in two splits (a leak that would flatter every generator)."""
    seen: dict[str, str] = {}
    for name, subjects in split_subjects.items():
        for s in set(subjects):
            if s in seen and seen[s] != name:
                raise DataError(f"subject '{s}' would land in both the {seen[s]} and the {name} split")
            seen[s] = name


def draw_seed(split_seed: int, draw: int) -> int:
    """The seed of draw `draw` (≥ 1) of the training set: independent of the split seed's other draws."""
    return int(np.random.SeedSequence([int(split_seed), int(draw)]).generate_state(1)[0])


def redraw(subject_ids: list[str], idx: dict[str, list[int]], fractions: dict[str, float], seed: int,
           strata: list[str] | None = None) -> dict[str, list[int]]:
    """Another training set from the same pool: the test split kept as it is, the train + val subjects shared
    out again between train and val in the proportions of `fractions` (per stratum when `strata` is given)."""
    pool = sorted(idx["train"] + idx.get("val", []))
    parts = {n: fractions[n] for n in ("train", "val") if fractions.get(n, 0) > 0}
    sub = assign_subjects([subject_ids[i] for i in pool], parts, seed,
                          [strata[i] for i in pool] if strata is not None else None)
    out = {n: [pool[j] for j in sub.get(n, [])] for n in ("train", "val")}
    out = {n: v for n, v in out.items() if v or n == "train"}
    out["test"] = list(idx["test"])
    check_disjoint({n: [subject_ids[i] for i in v] for n, v in out.items()})
    return out


def split_cohort(cohort: Cohort, fractions: dict[str, float], seed: int, stratify: str = "",
                 draw: int = 0) -> Splits:
    """Split by subject; `stratify` names a metadata key (e.g. "condition") whose proportions each split keeps.
    Draw `draw` ≥ 1 re-draws train and val from their pooled subjects (:func:`redraw`); the test split stays."""
    strata = subject_strata(cohort, stratify) if stratify else None
    idx = assign_subjects(cohort.subject_ids, fractions, seed, strata)
    if draw > 0:
        idx = redraw(cohort.subject_ids, idx, fractions, draw_seed(seed, draw), strata)
    return Splits(cohort.subset(idx["train"]), cohort.subset(idx["val"]) if idx.get("val") else None,
                  cohort.subset(idx["test"]))
