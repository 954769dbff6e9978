"""The units of work of a suite's pending cells: one fit per generator and training run whose checkpoint is
missing (a GPU job), one sampling + scoring job per (generator, training run, seed); a score unit depends on its
training run's fit. Units of fit 0 keep the names of a suite fitted once (``fit-ddpm``, ``score-ddpm-seed0``);
later fits add ``-fit<k>`` (``fit-ddpm-fit1``, ``score-ddpm-fit1-seed0``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from benchgen import paths
from benchgen.checkpoint import GENERATOR_FILE
from benchgen.cluster.resources import ExecutorConfig, Resources
from benchgen.fit.fit import checkpoint_key
from benchgen.fit.replicates import fit_spec
from benchgen.results.cells import Plan
from benchgen.suite.model import Suite


@dataclass(frozen=True)
class Unit:
    id: str  # "fit-<label>" or "score-<label>-seed<N>": also its shard's name
    kind: str  # fit | score
    label: str
    seed: int | None  # score units: the evaluation seed
    todo: tuple[str, ...]  # the cell keys it computes (none for a fit)
    resources: Resources
    depends: tuple[str, ...] = ()  # unit ids that must finish first
    save_samples: bool = False  # the suite's first seed writes the sample NIfTI files and the montage
    draw: int | None = None  # the draw of the training set (suites with draws > 1)
    fit: int = 0  # the generator's training run (benchgen.fit.replicates)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "resources": asdict(self.resources)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Unit:
        return cls(**{**d, "todo": tuple(d["todo"]), "depends": tuple(d["depends"]),
                      "resources": Resources(**d["resources"])})


@dataclass
class UnitPlan:
    units: list[Unit] = field(default_factory=list)
    cached: int = 0  # cells already in the store

    def by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in self.units}


def fitted(suite: Suite, label: str, data_fp: str, draw: int | None = None, fit: int = 0) -> bool:
    """Whether the generator's checkpoint is already on disk (its score units just load it). A per-condition
    generator's parts depend on the condition table, known once the data are loaded: its fit unit finds them."""
    if suite.generators[label].per_condition:
        return False
    key = checkpoint_key(fit_spec(suite.generators[label], fit), data_fp, draw=draw)
    return (paths.cache_dir("checkpoints") / key / GENERATOR_FILE).is_file()


def plan_units(suite: Suite, plans: list[Plan], config: ExecutorConfig, data_fp: str) -> UnitPlan:
    out = UnitPlan()
    for plan in plans:
        label, draw, fit = plan.spec.label, plan.draw, plan.replicate.fit
        tag = ("" if draw is None else f"-draw{draw}") + plan.replicate.suffix()
        out.cached += len(plan.keys) - len(plan.pending)
        if not plan.pending:
            continue
        deps: tuple[str, ...] = ()
        if not fitted(suite, label, data_fp, draw, fit):
            out.units.append(Unit(f"fit-{label}{tag}", "fit", label, None, (), config.fit[label], draw=draw, fit=fit))
            deps = (f"fit-{label}{tag}",)
        for seed in suite.seeds:
            todo = tuple(plan.keys[(s, m)] for s, m in plan.pending if s == seed)
            if todo:
                out.units.append(Unit(f"score-{label}{tag}-seed{seed}", "score", label, seed, todo,
                                      config.score[label], deps,
                                      save_samples=seed == suite.seeds[0] and not draw and fit == 0,
                                      draw=draw, fit=fit))
    return out


def render_plan(suite: Suite, plan: UnitPlan, executor: str) -> str:
    """The dry-run listing: each unit, its cells, resources and dependencies."""
    lines = [f"{suite.name} v{suite.version} · profile {suite.profile} · executor {executor} · "
             f"{len(plan.units)} units · {sum(len(u.todo) for u in plan.units)} cells to compute, {plan.cached} cached"]
    width = max((len(u.id) for u in plan.units), default=4)
    for u in plan.units:
        what = "fit" if u.kind == "fit" else f"{len(u.todo)} cells"
        after = f" after {', '.join(u.depends)}" if u.depends else ""
        lines.append(f"  {u.id:<{width}}  {what:<9} {u.resources.describe()}{after}")
    if not plan.units:
        lines.append("  nothing to do: every cell is stored")
    return "\n".join(lines)
