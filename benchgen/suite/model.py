"""The data model of a benchmark suite: :class:`Suite`, its plugins (:class:`PluginSpec`) and a transfer-learned
generator's :class:`Parent`. A suite TOML becomes one through :func:`benchgen.suite.load.load_suite`, checked
against :mod:`benchgen.suite.schema`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Sequence, TypeVar

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.params import params_to_dict

if TYPE_CHECKING:
    from benchgen.interfaces import DatasetSource, Generator, Metric, Plugin, Preprocessor

PluginT = TypeVar("PluginT", bound="Plugin")


@dataclass(frozen=True)
class PluginSpec(Generic[PluginT]):
    """One configured plugin in a suite: its label, plugin name and strictly parsed params."""

    kind: str  # registry kind: generators, metrics, preprocessors, datasets
    label: str
    plugin: str  # the name as used and recorded: plain, or qualified `dist:name` (see registry.resolve)
    params: Any  # the plugin's Params dataclass instance
    seed: int = 0
    per_condition: bool = False  # generators: fitted once per condition (the baseline way to labelled samples)
    stratify: str = ""  # metrics: also scored per group of this metadata key (columns `label[group]`)
    parent: Parent | None = None  # generators with parent_plugins: where their weights start

    def config(self) -> dict[str, Any]:
        """What identifies the plugin in cell and checkpoint keys (a renamed metric: its former name)."""
        cls = registry.load_class(self.kind, self.plugin)
        return {"plugin": getattr(cls, "cell_key_plugin", None) or self.plugin, "version": cls.version,
                "params": params_to_dict(self.params), **({"parent": self.parent.config()} if self.parent else {})}

    def build(self) -> PluginT:
        """A fresh plugin instance with these params (built by the registry, the one constructor)."""
        return registry.instantiate(self.kind, self.plugin, self.params)  # type: ignore[return-value]


@dataclass(frozen=True)
class Parent:
    """Where a transfer-learned generator starts: a checkpoint folder (``parent = "..."``, identified by its
    weights' sha256 and config hash), or a generator fitted in the suite on another cohort (``[pretrain]``:
    its spec and the dataset fields that replace the suite's)."""

    path: Path | None = None
    identity: dict[str, Any] = field(default_factory=dict)  # a folder's {sha256, config_hash}
    spec: PluginSpec[Any] | None = None
    dataset: dict[str, Any] = field(default_factory=dict)  # Suite fields: source, split, split_seed, ...

    def config(self) -> dict[str, Any]:
        """What identifies the parent in the child's config (so in its checkpoint and cell keys)."""
        if self.path is not None:
            return {"checkpoint": self.identity}
        assert self.spec is not None
        data = {k: (v.config() if isinstance(v, PluginSpec) else v) for k, v in self.dataset.items()}
        return {"pretrain": {**self.spec.config(), "seed": self.spec.seed, "dataset": data}}

    def suite(self, suite: Suite) -> Suite:
        """`suite` with the pretrain dataset and the parent as its one generator: what the parent is fitted in."""
        assert self.spec is not None
        return dataclasses.replace(suite, generators={self.spec.label: self.spec}, **self.dataset)


@dataclass
class Suite:
    path: Path
    name: str
    version: str
    description: str
    profile: str
    profile_reason: str
    profiles: list[str]
    primary_metric: str
    shape: tuple[int, int, int]
    source: PluginSpec[DatasetSource]
    split: dict[str, float]
    split_seed: int
    first_volume: bool
    jobs: int
    steps: list[PluginSpec[Preprocessor]]
    generators: dict[str, PluginSpec[Generator]]
    n_samples: int
    seeds: list[int]
    bootstrap: int
    device: str
    metrics: dict[str, PluginSpec[Metric]]
    document: dict[str, Any] = field(repr=False, default_factory=dict)  # the merged TOML
    protocol: str = ""  # a benchgen.suite.protocols preset that supplied the metrics; "" = the suite's own
    split_stratify: str = ""  # dataset.split.stratify: a metadata key each split keeps the proportions of
    conditions: dict[str, Any] | None = None  # [evaluation.conditions]: the table synthetic sets are drawn to
    draws: int = 1  # [evaluation] draws: training sets drawn from the train + val pool, each fitted and scored
    fits: dict[str, int] = field(default_factory=dict)  # label -> training runs (evaluation.fits or the table's)
    baseline: str = ""  # evaluation.baseline: the row every other row is compared with (benchgen.board.verdicts)

    def draw_ids(self) -> list[int | None]:
        """The draws of the training set a run covers: [None] (the split as it is, keys as ever) or 0..R-1."""
        return [None] if self.draws == 1 else list(range(self.draws))

    def fits_of(self, label: str) -> int:
        """How many times the generator `label` is fitted (1 unless evaluation.fits or its table says more)."""
        return self.fits.get(label, 1)

    def generator_labels(self, labels: Sequence[str] | None = None) -> list[str]:
        """`labels` (all generators when empty), each checked to be one of this suite's."""
        labels = list(labels or self.generators)
        for label in labels:
            if label not in self.generators:
                raise ConfigError(f"{self.path}: unknown generator '{label}' in this suite",
                                  f"choose from {', '.join(self.generators)}")
        return labels
