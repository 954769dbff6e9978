"""The conditional generator checks: a correct class-conditional toy passes them, each broken one fails exactly
its check, and an unconditional generator passes them as not applicable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from benchgen.errors import ConfigError
from benchgen.interfaces import FitContext, Generator
from benchgen.testing import check_generator
from benchgen.volumes import Cohort

CONDITIONAL_CHECKS = ["conditional_sample", "conditional_deterministic_for_seed", "conditional_unknown_value"]


class ClassMeans(Generator):
    """Each condition's training mean plus seeded noise; sample() draws around the overall mean."""

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        labels = [m["condition"] for m in train.metadata]
        self.means = {c: train.data[[i for i, x in enumerate(labels) if x == c]].mean(0) for c in set(labels)}
        self.overall = train.data.mean(0)

    def _noisy(self, means: list[torch.Tensor], seed: int) -> torch.Tensor:
        base = torch.stack(means)
        noise = torch.randn(base.shape, generator=torch.Generator().manual_seed(seed))
        return (base + 0.05 * noise).clamp(0, 1)

    def sample(self, n: int, seed: int, progress: Any = None) -> torch.Tensor:
        return self._noisy([self.overall] * n, seed)

    def conditions(self) -> tuple[str, ...]:
        return ("condition",)

    def mean_of(self, row: dict[str, Any]) -> torch.Tensor:
        if row["condition"] not in self.means:
            raise ConfigError(f"condition {row['condition']!r} not trained; allowed: {', '.join(sorted(self.means))}")
        return self.means[row["condition"]]

    def sample_conditional(self, table: list[dict[str, Any]], seed: int, progress: Any = None) -> torch.Tensor:
        return self._noisy([self.mean_of(r) for r in table], seed)

    def save(self, folder: Path) -> None:  # only the conditional checks run on it: no round trip
        folder.mkdir(parents=True, exist_ok=True)

    def load(self, folder: Path) -> None:
        raise NotImplementedError


class OneShort(ClassMeans):
    def sample_conditional(self, table, seed, progress=None):
        return super().sample_conditional(table, seed)[:-1]


class CondSeedIgnored(ClassMeans):
    def sample_conditional(self, table, seed, progress=None):
        return super().sample_conditional(table, 0)


class AcceptsAnything(ClassMeans):
    def mean_of(self, row):
        return self.means.get(row["condition"], self.overall)


class WrongErrorKind(ClassMeans):
    def mean_of(self, row):
        return self.means[row["condition"]]  # a KeyError, not a ConfigError


@pytest.mark.parametrize("cls,expected", [
    (ClassMeans, []),
    (OneShort, ["conditional_sample"]),
    (CondSeedIgnored, ["conditional_deterministic_for_seed"]),
    (AcceptsAnything, ["conditional_unknown_value"]),
    (WrongErrorKind, ["conditional_unknown_value"]),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_each_broken_conditional_generator_fails_exactly_its_check(cls, expected):
    results = {r.name: r for r in check_generator(cls, only=CONDITIONAL_CHECKS)}
    assert [n for n in CONDITIONAL_CHECKS if results[n].failed] == expected, \
        [(r.name, r.message) for r in results.values() if not r.passed]
    if not expected:
        assert results["conditional_unknown_value"].message.startswith("'als-like':")


def test_unconditional_generators_pass_the_conditional_checks_as_not_applicable():
    results = check_generator("gaussian", only=CONDITIONAL_CHECKS)
    assert all(r.passed and r.message.startswith("n/a: conditions() is empty") for r in results[-3:])
