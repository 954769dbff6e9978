"""A suite's generator as the runner samples it against a condition table.

Three ways a generator meets the table (:class:`~benchgen.conditions.ConditionTable`), recorded with every
score as ``sampler.conditioning``:

* ``conditional``: it declares ``conditions()`` (``condition``, ``age``, ...) and draws one volume per row;
* ``per-condition``: ``per_condition = true`` on its table fits one model per condition of the table, each
  on that condition's training scans, and each draws its rows;
* ``unconditional``: it draws ``n`` volumes and the table's rows are assigned to them as labels — what a
  generator that ignores the condition amounts to (the anatomy metric's disease effects expose it).

What can be known before any training is checked by :func:`check_before_fit`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchgen.conditions import NA, ConditionTable, check_groups, cohort_counts
from benchgen.errors import ConfigError
from benchgen.fit.fit import fit_or_load, is_fitted
from benchgen.fit.parent import resolve_parent
from benchgen.interfaces import Generator
from benchgen.progress import ProgressFn, no_progress
from benchgen.sample.cache import DrawTime, sample_cached, sample_ids
from benchgen.score.score import group_of
from benchgen.suite.model import PluginSpec, Suite
from benchgen.volumes import Cohort


@dataclass
class Fitted:
    """The fitted model(s) of one suite generator: ``{"": model}``, or ``{condition: model}`` per condition."""

    spec: PluginSpec[Generator]
    models: dict[str, tuple[Generator, Path]]

    @property
    def per_condition(self) -> bool:
        return "" not in self.models

    def conditioning(self) -> str:
        if self.per_condition:
            return "per-condition"
        keys = self.models[""][0].conditions()
        return f"conditional: {', '.join(keys)}" if keys else "unconditional"

    def sampler_info(self) -> dict[str, Any]:
        gen = next(iter(self.models.values()))[0]
        return {**gen.sampler_info(), "conditioning": self.conditioning()}

    def checkpoints(self) -> dict[str, Path]:
        return {cond: ckpt for cond, (_, ckpt) in self.models.items()}

    def draw(self, table: ConditionTable, seed: int, shape: tuple[int, int, int], affine: np.ndarray,
             progress: ProgressFn = no_progress) -> tuple[Cohort, DrawTime | None]:
        """One checked volume per table row (cached); the rows are the volumes' metadata. With it, the draw's
        time: per condition, the parts' total over their total volumes (None if a part's time is unknown)."""
        n, label = len(table.rows), self.spec.label
        if not self.per_condition:
            gen, ckpt = self.models[""]
            return sample_cached(gen, ckpt, n, seed, shape, label, affine, progress, table.rows)
        data = torch.empty((n, 1, *shape), dtype=torch.float32)
        times: list[DrawTime | None] = []
        for cond, idx in table.groups().items():
            gen, ckpt = self.models[cond]
            part, took = sample_cached(gen, ckpt, len(idx), seed, shape, f"{label}[{cond}]", affine, progress)
            data[idx] = part.data
            times.append(took)
        known = [t for t in times if t is not None]
        total = sum(known[1:], known[0]) if known and len(known) == len(times) else None
        return Cohort(data, affine, sample_ids(label, seed, n), [dict(r) for r in table.rows]), total


def fit(spec: PluginSpec[Generator], data: Any, suite: Suite, device: str, table: ConditionTable,
        progress: ProgressFn = no_progress) -> Fitted:
    """Fit (or load) the model(s) of `spec`: one, or one per condition of `table` when ``per_condition``."""
    parts = list(table.groups()) if spec.per_condition else [""]
    # the parent is a step of its own, taken only when a part still has to be fitted
    parent = None if all(is_fitted(spec, data, c) for c in parts) else resolve_parent(spec, suite, device, progress)
    if not spec.per_condition:
        return Fitted(spec, {"": fit_or_load(spec, data, suite, device, progress, parent=parent)})
    models = {}
    for i, cond in enumerate(parts):
        progress(f"{spec.label}: one model per condition ({cond} next)", i, len(parts))
        models[cond] = fit_or_load(spec, data, suite, device, progress, condition=cond, parent=parent)
    return Fitted(spec, models)


def check_before_fit(suite: Suite, labels: list[str], data: Any, table: ConditionTable) -> None:
    """What would fail later, as one ConfigError now: a per-condition or conditional generator asked for
    a condition its training split lacks; a stratified metric with a group of fewer than 2 scans."""
    train = cohort_counts(data.splits.train.subject_ids, data.splits.train.metadata)
    for label in labels:
        spec = suite.generators[label]
        if spec.per_condition:
            if any(row.get("condition") is None for row in table.rows):
                raise ConfigError(f"generators.{label}.per_condition: the condition table has rows without a "
                                  "condition", "the dataset needs a condition (or diagnosis) for every scan")
            check_groups(table, train, "the training split", 2)
        elif "condition" in spec.build().conditions():
            check_groups(table, train, f"the training split of generators.{label}")
    test = data.splits.test
    for mlabel, mspec in suite.metrics.items():
        if not mspec.stratify:
            continue
        groups = [group_of(m, sid, mspec.stratify) for sid, m in zip(test.subject_ids, test.metadata)]
        # scans without a condition form the "n/a" group (the table cannot ask for it); other keys skip them
        real = Counter(NA if g is None else g for g in groups if g is not None or mspec.stratify == "condition")
        wanted = {g: len(idx) for g, idx in table.groups(mspec.stratify).items()}
        for group in sorted(set(real) | set(wanted)):
            have = {"the reference (test) split": real.get(group, 0), "the condition table": wanted.get(group, 0)}
            for what, k in have.items():
                if k < 2:
                    raise ConfigError(f"evaluation.metrics.{mlabel}.stratify: group {mspec.stratify} = {group} has "
                                      f"{k} scan{'s' if k != 1 else ''} in {what}; scoring a group needs at least 2",
                                      "enlarge the cohort or the test split, or drop stratify")

