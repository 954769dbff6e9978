"""What one job runs: a unit of a plan, in a fresh process on any node, writing only its own shard."""

from __future__ import annotations

import dataclasses
import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchgen.cluster.plan import Unit
from benchgen.cluster.shards import shard_dir
from benchgen.errors import ConfigError
from benchgen.suite.model import Suite


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker needs, pickled by submitit: the suite as the submitter loaded it, the unit, the
    data fingerprint its cell keys were planned on, the run folder its shard goes to, and the submitter's
    BENCHGEN_HOME (and BENCHGEN_CACHE) as absolute paths."""

    suite: Suite
    unit: Unit
    data_fp: str
    run_dir: str
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    def __call__(self) -> dict[str, Any]:
        return run_unit(self)


def run_unit(job: UnitJob) -> dict[str, Any]:
    """Run the unit; returns its summary (also stored in the shard's header when it completes)."""
    from benchgen.cluster.shards import ShardStore
    from benchgen.data.load import list_dataset

    os.environ.update(job.env)  # the checkpoints, samples and data caches the submitter planned with
    if hasattr(signal, "SIGUSR2"):
        # submitit's warning signal before the time limit raises inside whatever runs (a fit, a metric), and the
        # runner would store the scheduler's limit as that cell's error: ignore it; at the limit the scheduler
        # ends the job (TIMEOUT), the shard keeps its finished cells and a re-run resubmits the rest
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    suite, unit = job.suite, job.unit
    fp = list_dataset(suite).fingerprint
    if fp != job.data_fp:  # the cell keys were planned on other data: computing them would store nothing
        raise ConfigError(f"{unit.id}: the dataset changed since the run was planned",
                          "run `benchgen run` again to plan the new data's cells")
    attempt = uuid.uuid4().hex[:8]
    header = {"suite": suite.name, "suite_version": suite.version, "profile": suite.profile, "unit": unit.id,
              "attempt": attempt}
    shard = ShardStore(shard_dir(Path(job.run_dir)) / f"{unit.id}.{attempt}.jsonl", header, unit.todo)
    summary = _fit(suite, unit) if unit.kind == "fit" else _score(suite, unit, shard)
    shard.finish(summary)
    return summary


def _fit(suite: Suite, unit: Unit) -> dict[str, Any]:
    """Fit (or find) the checkpoint. A plugin's error is not the job's: the score units run anyway and store
    it as their cells' error records, exactly as an in-process run does."""
    from benchgen.data.load import load_data
    from benchgen.fit.replicates import fit_spec
    from benchgen.provenance import resolve_device
    from benchgen.runner import condition_table
    from benchgen.sample import conditional

    try:
        data = load_data(suite, draw=unit.draw)  # one model, or one per condition of the run's condition table
        conditional.fit(fit_spec(suite.generators[unit.label], unit.fit), data, suite, resolve_device(suite.device),
                        condition_table(suite, data))
    except Exception as exc:  # noqa: BLE001 — reported in the summary, stored by the score units
        return {"fit_error": f"{type(exc).__name__}: {exc}"}
    return {}


def _score(suite: Suite, unit: Unit, shard: Any) -> dict[str, Any]:
    from benchgen.runner import run_suite

    assert unit.seed is not None
    one_seed = dataclasses.replace(suite, seeds=[unit.seed])  # cell keys do not depend on the seed list
    s = run_suite(one_seed, quiet=True, only=[unit.label], save_samples=unit.save_samples, store=shard,
                  draws=[unit.draw], fits=[unit.fit])
    return {"computed": s.computed, "cached": s.cached,
            "errors": [{"cell": e.cell, "message": e.message, "traceback": e.traceback} for e in s.errors],
            "skipped": s.skipped, "data_failures": s.data_failures, "outputs": [str(p) for p in s.outputs]}
