"""The five plugin kinds. A plugin is a class registered under an entry point; the registry builds it
with its parsed ``Params`` dataclass: ``PluginClass(params)``.

Every class declares ``version`` (bump it when its numbers can change) and ``Params`` (a dataclass,
see :mod:`benchgen.params`). Anything that can change a score is in the params and so in the record.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

import numpy as np
import torch

from benchgen.hashing import fingerprint
from benchgen.params import NoParams, params_to_dict
from benchgen.progress import ProgressFn, no_progress
from benchgen.volumes import Cohort, Volume

Status = Literal["ok", "skipped", "error"]


@dataclass(frozen=True)
class SuiteCheck:
    """What :meth:`Plugin.check_suite` checks a plugin's params against when a suite is loaded (by
    `validate`, `run` and `train`, before any work)."""

    shape: tuple[int, int, int]  # dataset.shape: the volumes the plugin will see
    n_samples: int  # evaluation.n_samples: synthetic volumes per seed
    device: str  # evaluation.device as written: auto, cpu or cuda
    where: str  # this plugin's table in the suite, e.g. "generators.ddpm": name it (and the key) in errors
    n_real: int | None = None  # size of the real reference set when the caller knows it (loading does not)


class Plugin:
    """Shared by all kinds: a name (the entry-point name), a version and typed params."""

    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams
    name: str = "?"  # set by the registry to the name it was built under: `ddpm`, or qualified `other-dist:ddpm`
    # Small params that make this plugin fast enough for the shared contract tests (tests/contracts).
    tiny_params: ClassVar[dict[str, Any]] = {}
    # What a cluster job of this plugin asks for (gpus, cpus, mem_gb, time_min): a generator's for its fit
    # jobs, the largest of the generator's and the metrics' for sampling + scoring jobs. Suites override it.
    resources: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: Any = None):
        self.params = params if params is not None else self.Params()

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this plugin: stored with every score."""
        return {"plugin": self.name, "version": self.version, "params": params_to_dict(self.params)}

    def fingerprint(self) -> str:
        return fingerprint(self.config())

    def check_suite(self, ctx: SuiteCheck) -> None:
        """Refuse params that cannot work in this suite, before any work: raise ``ConfigError`` naming
        ``ctx.where`` and the key (e.g. ``f"{ctx.where}.params.k: ..."``). The default accepts everything;
        params checks that need no suite belong in ``Params.__post_init__``."""


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class DataItem:
    """One scan a source can load. `key` identifies its content (a file hash or generation params)."""

    subject_id: str
    key: str
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str | None = None


class DatasetSource(Plugin, abc.ABC):
    """Lists scans and loads them one at a time, so one bad file is reported, not fatal."""

    # `benchgen preprocess` writes a participants.tsv of the metadata beside the outputs (BIDS does)
    keeps_participants: ClassVar[bool] = False

    @abc.abstractmethod
    def items(self) -> list[DataItem]:
        """Every scan with its subject id and metadata (cheap: no voxels read)."""

    @abc.abstractmethod
    def load(self, item: DataItem) -> Volume:
        """The voxels of one item; raise DataError with a one-line reason when it is unusable."""

    @classmethod
    def claim(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """Whether this source can read `path` as given to ``benchgen preprocess SRC``: (priority, the
        params that point it there), or None. The highest priority wins; sources that read no files
        (the phantom) claim nothing."""
        return None


@dataclass
class PrepContext:
    """What a preprocessing step may need besides the volume."""

    target_shape: tuple[int, int, int]
    first_volume: bool = False


class Preprocessor(Plugin, abc.ABC):
    """Volume -> Volume, deterministic; its fingerprint (params + version) keys the cache."""

    @abc.abstractmethod
    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume: ...


# --------------------------------------------------------------------------------------- generators
@dataclass
class FitContext:
    """Where and how a generator trains. `workdir` survives interruptions: resume from it."""

    workdir: Path
    seed: int = 0
    device: str = "cpu"
    profile: str = "default"
    val: Cohort | None = None  # validation split: for validation loss (ddpm) or held-out scans (holdout)
    progress: ProgressFn = no_progress
    quiet: bool = False
    resume: bool = True
    parent: Path | None = None  # a transfer-learned generator's parent checkpoint folder (Generator.parent_plugins)


class Generator(Plugin, abc.ABC):
    """Fitted on the training split; samples volumes in [0, 1] at the training shape.

    ``device`` is the suite's device (``evaluation.device``, resolved), set by the runner before ``fit`` or
    ``load``; a generator that has a device setting of its own lets an explicit value there win."""

    device: str | None = None
    # Params that change only how samples are drawn (sampler, steps, guidance), not the fitted state: they
    # are left out of the checkpoint key, so suite rows that differ only in them share one fit.
    sampling_params: ClassVar[tuple[str, ...]] = ()
    # A transfer-learned generator starts from a fitted parent of one of these plugins (`parent` or
    # `[pretrain]` on its suite table; the folder arrives as FitContext.parent). () = trains from scratch.
    parent_plugins: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def tiny_parent(cls, folder: Path, train: Cohort, val: Cohort | None) -> Path:
        """A small fitted parent checkpoint in `folder`, for the contract checks of a generator with
        `parent_plugins` (what `tiny_params` cannot hold)."""
        raise NotImplementedError(f"{cls.__name__} declares parent_plugins but no tiny_parent()")

    @abc.abstractmethod
    def fit(self, train: Cohort, ctx: FitContext) -> None:
        """Fit on `train`; its ``metadata`` holds each scan's condition, age, sex, ... (a conditional
        generator learns from them)."""

    @abc.abstractmethod
    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        """``n×1×D×H×W`` float32 in [0, 1]; the same seed gives the same volumes."""

    @abc.abstractmethod
    def save(self, folder: Path) -> None:
        """Write everything `load` needs into `folder` (no pickles of arbitrary objects)."""

    @abc.abstractmethod
    def load(self, folder: Path) -> None:
        """Restore the fitted state written by `save` into this (already configured) instance."""

    def sampler_info(self) -> dict[str, Any]:
        """How samples are drawn (sampler, steps), recorded with every score."""
        return {}

    def estimate_flops(self, shape: tuple[int, int, int], n_train: int, n_samples: int) -> float | None:
        """Floating-point operations to fit on `n_train` volumes of `shape` and draw `n_samples`, computed from
        the configuration without running it; None when unknown. `benchgen run` turns it into the GPU-hours
        a profile it does not start would cost."""
        return None

    def conditions(self) -> tuple[str, ...]:
        """The metadata keys this generator's samples can be conditioned on (``condition``, ``age``,
        ``sex``, ...), decided by its params before it is fitted; ``()`` for an unconditional generator."""
        return ()

    def sample_conditional(self, table: list[dict[str, Any]], seed: int,
                           progress: ProgressFn = no_progress) -> torch.Tensor:
        """One volume per row of `table` (a metadata dict holding at least the keys of :meth:`conditions`),
        ``len(table)×1×D×H×W`` float32 in [0, 1]; the same table and seed give the same volumes. A value it
        cannot produce (a class it was not trained on) is a ``ConfigError`` naming the value and the allowed
        ones. Only called when :meth:`conditions` is not empty."""
        from benchgen.errors import ConfigError

        raise ConfigError(f"generator '{self.name}' cannot condition its samples",
                          "it declares no conditions(); set per_condition = true on its table to fit it per condition")


# ------------------------------------------------------------------------------------------ metrics
@dataclass
class MetricResult:
    value: float | None
    ci: tuple[float, float] | None = None
    status: Status = "ok"
    message: str | None = None
    reference: float | None = None  # the real set's own value where that means something (MS-SSIM)
    details: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool | None = None  # set per sub-result when a metric returns several
    # Bootstrap replicates of `value` (B floats), the real set resampled from the shared stream of
    # benchgen.functional.bootstrap: boards pool them over seeds and pair them across rows (rank intervals).
    replicates: Any = None
    ci_method: str = "percentile"  # how `ci` follows from the replicates: percentile, basic or centered
    ci_bounds: tuple[float | None, float | None] | None = None  # the statistic's range; intervals are clipped to it


@dataclass
class MetricContext:
    seed: int = 0
    device: str = "cpu"
    cache_dir: Path | None = None  # for real-set features
    real_fingerprint: str | None = None
    progress: ProgressFn = no_progress
    # How the synthetic set met its condition table (benchgen.sample.conditional): "unconditional" (labels assigned
    # to its samples, not generated), "per-condition", "conditional: condition, age, ..."; None outside a run
    conditioning: str | None = None


def save_generator(gen: Generator, folder: Path) -> None:
    """Store `gen` the one way the harness does (the runner's fit and the plugin kit alike): `folder` is
    created, empty, before `save` is called, so a plugin may write straight into it."""
    folder.mkdir(parents=True)
    gen.save(folder)


METRIC_KINDS = ("fidelity", "diversity", "memorization", "anatomy", "utility")  # Metric.kind's values


class Metric(Plugin, abc.ABC):
    """Scores a synthetic set against the real reference set (and the training set if it needs it).

    ``score`` returns one :class:`MetricResult`, or a dict of named sub-results (e.g. PRDC's four
    numbers), each stored and ranked as its own column ``<label>.<key>``.
    """

    higher_is_better: ClassVar[bool] = False
    needs_train: ClassVar[bool] = False
    # What the metric measures, which picks its figures in the report: "fidelity" (distance to the real set:
    # metric bars, the trade-off plot's first panel), "diversity", "memorization" (copies of training scans: the
    # trade-off plot's second panel), "anatomy" (regional volumes and disease effects: the effect plot) or "utility"
    # (a downstream classifier's gain: the trade-off plot's y axis).
    kind: ClassVar[str] = "fidelity"
    # Whether `stratify = "condition"` may score it per group (columns `label[group]`): False for a metric
    # whose score itself compares the groups (anatomy's disease effects)
    stratifiable: ClassVar[bool] = True
    # Sub-result key ("" for a single result) -> a short note of the interval's measured coverage where it
    # misses the 0.90-0.99 goal (benchmarks/ci_coverage.py); boards print it in their caption.
    interval_notes: ClassVar[dict[str, str]] = {}
    # A metric given a name of its own after results were stored under another plugin's name (frd, once
    # fid with radiomic features): that name stays in its cell keys, so stored cells are not scored again.
    cell_key_plugin: ClassVar[str | None] = None

    @abc.abstractmethod
    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> MetricResult | dict[str, MetricResult]: ...


class FeatureExtractor(Plugin, abc.ABC):
    """Volumes -> feature vectors (float64 ``N×F``)."""

    @abc.abstractmethod
    def extract(self, volumes: torch.Tensor, device: str = "cpu") -> np.ndarray: ...

    def weights_sha256(self) -> str | None:
        """sha256 of pretrained weights, or None for weight-free extractors; recorded with scores."""
        return None


KINDS: dict[str, type[Plugin]] = {
    "generators": Generator,
    "metrics": Metric,
    "preprocessors": Preprocessor,
    "datasets": DatasetSource,
    "features": FeatureExtractor,
}


__all__ = [
    "Cohort", "DataItem", "DatasetSource", "FeatureExtractor", "FitContext", "Generator", "KINDS",
    "Metric", "MetricContext", "MetricResult", "Plugin", "PrepContext", "Preprocessor", "ProgressFn",
    "Sequence", "SuiteCheck", "Volume", "no_progress",
]
