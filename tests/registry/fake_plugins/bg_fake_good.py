"""Plugins for the registry tests, reached only through constructed entry points."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from benchgen.interfaces import FitContext, Generator, Metric, MetricContext, MetricResult
from benchgen.volumes import Cohort


@dataclass(frozen=True)
class ConstParams:
    level: float = 0.5
    smooth: bool = False


class ConstGenerator(Generator):
    """Every voxel equals `level`."""

    Params = ConstParams

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        self.shape = train.shape

    def sample(self, n: int, seed: int, progress=None) -> torch.Tensor:
        return torch.full((n, 1, *self.shape), self.params.level)

    def save(self, folder: Path) -> None:
        pass

    def load(self, folder: Path) -> None:
        pass


class OtherConstGenerator(ConstGenerator):
    """A third party's constant generator that reuses another plugin's name."""


class MeanGap(Metric):
    higher_is_better = False

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None, ctx: MetricContext) -> MetricResult:
        return MetricResult(abs(float(synthetic.data.mean() - real.data.mean())))


def not_a_class() -> None:
    return None
