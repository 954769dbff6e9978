"""Tiny in-memory plugins for testing the core (suite, runner, store) without the built-in plugins."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchgen.errors import DataError, MetricError
from benchgen.interfaces import (
    DataItem,
    DatasetSource,
    FitContext,
    Generator,
    Metric,
    MetricContext,
    MetricResult,
    PrepContext,
    Preprocessor,
)
from benchgen.volumes import Cohort, Volume

SHAPE = (6, 8, 6)


@dataclass(frozen=True)
class BlobParams:
    n_subjects: int = 20
    bad_subjects: tuple[int, ...] = ()


class Blobs(DatasetSource):
    """Gaussian blobs whose width varies per subject; listed subjects fail to load."""

    Params = BlobParams

    def items(self):
        return [DataItem(f"sub-{i:02d}", key=f"blob-{i}") for i in range(self.params.n_subjects)]

    def load(self, item):
        i = int(item.subject_id[4:])
        if i in self.params.bad_subjects:
            raise DataError(f"{item.subject_id}: deliberately broken")
        grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE], indexing="ij"))
        width = 0.3 + 0.02 * i
        arr = np.exp(-(grid ** 2).sum(0) / (2 * width ** 2)).astype(np.float32)
        return Volume(arr, np.eye(4), item.subject_id, {"i": i})


class Identity(Preprocessor):
    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        return volume


@dataclass(frozen=True)
class MeanParams:
    scale: float = 1.0
    fail: bool = False


class MeanGen(Generator):
    """Returns the training mean times `scale` plus seeded noise; counts fits in a file for tests."""

    Params = MeanParams

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        if self.params.fail:
            raise RuntimeError("deliberate fit failure")
        if os.environ.get("BENCHGEN_TEST_HANG_FIT_SEED") == str(ctx.seed):  # lets a test kill -9 mid-fit
            while True:
                time.sleep(0.05)
        # a fit-seed-dependent shift, so that training runs differ as real ones do
        self.mean = train.data.mean(0, keepdim=True) * self.params.scale + 0.001 * (ctx.seed % 7)
        counter = os.environ.get("BENCHGEN_TEST_FIT_COUNTER")
        if counter:
            with open(counter, "a") as f:
                f.write("fit\n")

    def sample(self, n, seed, progress=None):
        g = torch.Generator().manual_seed(seed)
        noise = 0.01 * torch.rand((n, 1, *self.mean.shape[2:]), generator=g)
        return (self.mean.expand(n, -1, -1, -1, -1) + noise).clamp(0, 1)

    def save(self, folder: Path) -> None:
        (folder / "mean.json").write_text(json.dumps(self.mean.flatten().tolist() + list(self.mean.shape)))

    def load(self, folder: Path) -> None:
        values = json.loads((folder / "mean.json").read_text())
        shape = [int(v) for v in values[-5:]]
        self.mean = torch.tensor(values[:-5]).reshape(shape)


@dataclass(frozen=True)
class DiffParams:
    bootstrap: int = 10
    explode: bool = False


class MeanDiff(Metric):
    """|mean(synthetic) - mean(real)|, lower is better."""

    Params = DiffParams
    higher_is_better = False

    def score(self, synthetic, real, train, ctx: MetricContext):
        if self.params.explode:
            raise MetricError("deliberate metric failure")
        if os.environ.get("BENCHGEN_TEST_HANG_SEED") == str(ctx.seed):  # lets a test kill -9 mid-run
            while True:
                time.sleep(0.05)
        v = float((synthetic.data.mean() - real.data.mean()).abs())
        return MetricResult(v, ci=(v * 0.9, v * 1.1), details={"bootstrap": self.params.bootstrap})


class Pair(Metric):
    """Two sub-results, to test metrics that return several columns."""

    higher_is_better = True

    def score(self, synthetic, real, train, ctx):
        return {"a": MetricResult(1.0), "b": MetricResult(2.0, higher_is_better=False)}


class Gain(Metric):
    """A third party's downstream-utility metric: declares kind "utility" under a name of its own."""

    kind = "utility"
    higher_is_better = True

    def score(self, synthetic, real, train, ctx):
        v = float(synthetic.data.std() - real.data.std())
        return MetricResult(v, ci=(v - 0.1, v + 0.1))
