"""The cells of a suite: one per (draw, generator, training run, seed, metric), each with a key made of everything
that can change its score; and which stored records are the suite's as its file stands now (what a board shows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchgen.data.load import list_dataset
from benchgen.fit.replicates import Replicate, fit_spec
from benchgen.hashing import fingerprint
from benchgen.results.store import CellStore, ResultStore, draw_of
from benchgen.suite.model import PluginSpec, Suite


@dataclass
class Plan:
    """The cells of one generator: their keys, and which are already in the store."""

    spec: PluginSpec  # the generator as this training run fits it (benchgen.fit.replicates.fit_spec)
    keys: dict[tuple[int, str], str]  # (seed, metric label) -> cell key
    done: set[str]
    draw: int | None = None  # the draw of the training set (suites with draws > 1), else None
    replicate: Replicate = Replicate()  # which training run of the row

    @property
    def pending(self) -> list[tuple[int, str]]:
        return [cell for cell, key in self.keys.items() if key not in self.done]


def cell_key(suite: Suite, gen: PluginSpec, seed: int, metric: PluginSpec, data_fp: str,
             draw: int | None = None, replicate: Replicate = Replicate()) -> str:
    # settings join the key only when set: cells of suites without them keep their keys
    optional = {"protocol": suite.protocol, "conditions": suite.conditions, "per_condition": gen.per_condition,
                "stratify": metric.stratify, "draw": None if draw is None else [draw],  # [0] is set, 0 is not
                **replicate.key_part()}
    return fingerprint({"suite": [suite.name, suite.version, suite.profile], "generator": gen.config(),
                        "fit_seed": gen.seed, "seed": seed, "metric": metric.config(),
                        "label": [gen.label, metric.label], "n": suite.n_samples, "data": data_fp,
                        **{k: v for k, v in optional.items() if v}}, 24)


def plan_cells(suite: Suite, labels: list[str], store: CellStore, data_fp: str,
               draws: list[int | None] | None = None, fits: list[int] | None = None) -> list[Plan]:
    """One plan per draw of the training set, generator and training run (`draws`, `fits`: the suite's, or a
    subset of them)."""
    plans = []
    for draw in suite.draw_ids() if draws is None else draws:
        for label in labels:
            for fit in range(suite.fits_of(label)):
                if fits is not None and fit not in fits:
                    continue
                rep, spec = Replicate(fit), fit_spec(suite.generators[label], fit)
                keys = {(seed, m): cell_key(suite, spec, seed, mspec, data_fp, draw, rep)
                        for seed in suite.seeds for m, mspec in suite.metrics.items()}
                plans.append(Plan(spec, keys, store.done_keys(keys.values()), draw, rep))
    return plans


def current_records(suite: Suite, store: ResultStore, all_configs: bool = False,
                    data_fp: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """The stored records of `suite` as its file stands now — exactly its generators' and metrics'
    current configs on its current data — and how many older records were left out. With
    `all_configs`, every record of the suite's version, profile and sample count (none left out)."""
    records = [r for r in store.records(suite=suite.name, profile=suite.profile)
               if r["suite_version"] == suite.version and r["n_synthetic"] == suite.n_samples]
    if all_configs:
        return records, 0
    data_fp = data_fp or list_dataset(suite).fingerprint  # a run passes its own: no second listing
    keys = {(p.spec.label, p.draw, p.replicate.fit, seed, mlabel): key
            for p in plan_cells(suite, list(suite.generators), store, data_fp)
            for (seed, mlabel), key in p.keys.items()}

    def current(r: dict[str, Any]) -> bool:
        fit = int((r.get("extra") or {}).get("fit", 0))
        for mlabel in suite.metrics:
            if r["metric"] == mlabel or r["metric"].startswith((mlabel + ".", mlabel + "[")):
                key = keys.get((r["generator"], draw_of(r), fit, r["seed"], mlabel))
                if key is not None and r["cell_key"] in (key, fingerprint([key, r["metric"]], 24)):
                    return True
        return False

    keep = [r for r in records if current(r)]
    return keep, len(records) - len(keep)
