"""run_suite(): plan the cells of a suite, then for each generator: fit (or reuse) -> sample per seed -> score.

Every finished (suite, generator, seed, metric) cell is stored at once, keyed by a fingerprint of
everything that made it; a re-run skips finished cells, so an interrupted run (Ctrl-C, kill -9)
resumes where it stopped. A failing cell is stored as an error (with the plugin's traceback in its
details) and the run goes on. Data, checkpoints, sampling and scoring live in their own modules.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape

from benchgen import leftovers, paths
from benchgen.atomic import copy_file
from benchgen.checkpoint import weights_record
from benchgen.conditions import ConditionTable, reference_table, suite_table
from benchgen.data.load import Data, list_dataset, load_data
from benchgen.distributed import is_main_process
from benchgen.fit.fit import fit_seed
from benchgen.fit.replicates import record_extra
from benchgen.hashing import fingerprint
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.progress import ProgressReporter
from benchgen.provenance import environment, now, resolve_device
from benchgen.results.cells import Plan, plan_cells
from benchgen.results.store import CellStore, Record, ResultStore
from benchgen.safety import inside
from benchgen.sample import conditional
from benchgen.score.score import error_result, finite_or_none, jsonable, score_metric, score_stratified, stored_details
from benchgen.suite import protocols
from benchgen.suite.model import Suite
from benchgen.timing import FILES, FIT, SAMPLE, SCORE, StageTimes
from benchgen.volumes import Cohort


@dataclass
class CellError:
    cell: str  # "generator/seed N/metric"
    message: str
    traceback: str | None = None  # the plugin's, for --debug


@dataclass
class RunSummary:
    suite: str
    profile: str
    results: Path
    computed: int = 0
    cached: int = 0
    errors: list[CellError] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    data_failures: list[tuple[str, str]] = field(default_factory=list)  # (subject or path, reason)
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    data_fingerprint: str | None = None  # of the run's dataset listing (reused by the board)
    stages: StageTimes = field(default_factory=StageTimes)  # seconds per stage (benchgen.timing)
    log_file: Path | None = None  # the run.log this run wrote to

    @property
    def ok(self) -> bool:
        return not self.errors


def run_suite(suite: Suite, results: str | Path | None = None, *, quiet: bool = False,
              only: list[str] | None = None, console: Any = None, save_samples: bool = True,
              store: CellStore | None = None, draws: list[int | None] | None = None,
              fits: list[int] | None = None) -> RunSummary:
    """Run every pending cell of `suite`, storing each as it finishes. Returns what happened.
    `store` replaces the result store at `results` (a cluster worker passes its shard); `draws` and `fits` limit
    the run to those draws of the training set and training runs of each generator (a cluster unit's)."""
    start = time.perf_counter()
    results = Path(results) if results else paths.default_results()
    store = store if store is not None else ResultStore(results)  # opened (and checked writable) before any work
    leftovers.sweep()  # temporaries of killed runs (never a live run's)
    device = resolve_device(suite.device)
    summary = RunSummary(suite.name, suite.profile, results)
    labels = suite.generator_labels(only)
    loop = _Loop(suite, store, device, summary, save_samples)
    log_file = inside(paths.runs_dir(), suite.name, suite.profile, "run.log") if is_main_process() else None
    with ProgressReporter(console=console, enabled=not quiet, interval_s=progress_interval(),
                          log_file=log_file) as progress:
        progress.log(f"run {loop.run_id}: suite {suite.name} v{suite.version}, profile {suite.profile}")
        t_data = time.perf_counter()
        listing = list_dataset(suite)
        summary.stages.add("data", time.perf_counter() - t_data)
        summary.data_fingerprint = listing.fingerprint
        plans = plan_cells(suite, labels, store, listing.fingerprint, draws, fits)
        data: dict[int | None, Data] = {}  # per draw of the training set, loaded when it has pending cells
        table: ConditionTable | None = None
        for plan in plans:
            summary.cached += len(plan.keys) - len(plan.pending)
            if not plan.pending:  # a fully cached re-run reads no voxels
                continue
            if plan.draw not in data:
                with summary.stages.time("data"):
                    data[plan.draw] = load_data(suite, progress, listing=listing, draw=plan.draw)
                if table is None:  # the test split, and so the table, is the same for every draw
                    summary.data_failures = data[plan.draw].failures
                    for where, reason in summary.data_failures:
                        progress.log(f"[yellow]excluded[/] {escape(where)}: {escape(reason)}")
                    table = condition_table(suite, data[plan.draw])
                if plan.draw:
                    progress.log(f"draw {plan.draw} of the training set")
                conditional.check_before_fit(suite, [p.spec.label for p in plans if p.pending and p.draw == plan.draw],
                                             data[plan.draw], table)
            assert table is not None  # set with the first draw's data
            loop.run_generator(plan, data[plan.draw], table, progress)
        progress.log(f"{summary.computed} cells computed, {summary.cached} cached, {len(summary.errors)} errors")
    store.close()
    summary.seconds = time.perf_counter() - start
    if log_file is not None:
        summary.outputs.append(log_file)
        summary.log_file = log_file
    return summary


def condition_table(suite: Suite, data: Data) -> ConditionTable:
    """The table every generator's samples are drawn to: the test split's own (resampled to n_samples), or
    the suite's ``[evaluation.conditions]``."""
    test = data.splits.test
    reference = reference_table(test.subject_ids, test.metadata, suite.n_samples)
    return suite_table(suite.conditions, reference, suite.n_samples) if suite.conditions else reference


def progress_interval() -> float:
    """Seconds between plain progress lines when stderr is not a terminal (``BENCHGEN_PROGRESS_INTERVAL``)."""
    return float(os.environ.get("BENCHGEN_PROGRESS_INTERVAL", "10"))


class _Loop:
    """One run's state shared by its generators: the store, device, environment and summary."""

    def __init__(self, suite: Suite, store: CellStore, device: str, summary: RunSummary, save_samples: bool):
        self.suite, self.store, self.device, self.summary = suite, store, device, summary
        self.save_samples = save_samples
        self.env = environment(device)
        self.run_id = uuid.uuid4().hex[:12]

    def run_generator(self, plan: Plan, data: Data, table: ConditionTable, progress: ProgressReporter) -> None:
        suite, spec, rep = self.suite, plan.spec, plan.replicate
        fits = suite.fits_of(spec.label)
        named = f"{spec.label} (fit {rep.fit + 1}/{fits})" if fits > 1 else spec.label
        base = dict(suite=suite.name, suite_version=suite.version, profile=suite.profile,
                    primary_metric=suite.primary_metric, generator=spec.label, generator_plugin=spec.plugin,
                    generator_version=spec.config()["version"], generator_config_hash=fingerprint(spec.config()),
                    generator_config={**spec.config(), "seed": spec.seed}, n_real=len(data.splits.test),
                    n_synthetic=suite.n_samples, data_fingerprint=data.fingerprint, run_id=self.run_id,
                    protocol=suite.protocol, **self.env)
        base["extra"] = {**base["extra"], "condition_table": table.record(),  # what the samples were drawn to
                         **record_extra(rep, spec.seed, fits)}
        if plan.draw is not None:  # which training set (of suite.draws) the generator was fitted on
            base["extra"]["draw"] = plan.draw
            base["extra"]["fit_seed"] = fit_seed(spec.seed, plan.draw)
        if suite.protocol:  # every record says whether the protocol's sample counts and shape were met
            check = protocols.get(suite.protocol).check(len(data.splits.test), suite.n_samples, suite.shape)
            base["extra"] = {**base["extra"], "protocol": check}
            if check["note"]:
                progress.log(f"[yellow]{check['note']}[/]: protocol {suite.protocol}'s numbers need more volumes")

        def store_cell(seed: int, mlabel: str, column: str, res: MetricResult, sampler: dict[str, Any],
                       seconds: float) -> None:
            key = plan.keys[(seed, mlabel)]
            if column != mlabel:
                key = fingerprint([key, column], 24)
            cfg = suite.metrics[mlabel].config()
            rec = Record(cell_key=key, metric=column, metric_plugin=suite.metrics[mlabel].plugin,
                         metric_version=cfg["version"],
                         metric_params=cfg["params"], higher_is_better=res.higher_is_better,
                         value=finite_or_none(res.value), ci_low=finite_or_none(res.ci[0]) if res.ci else None,
                         ci_high=finite_or_none(res.ci[1]) if res.ci else None,
                         reference=finite_or_none(res.reference), status=res.status, message=res.message,
                         details=jsonable(stored_details(res)), seed=seed, duration_s=seconds, sampler=sampler,
                         created_at=now(), **base)
            if is_main_process():  # under `accelerate launch` only rank 0 writes
                self.store.put(rec)
            where = (f"{spec.label}{'' if plan.draw is None else f'/draw {plan.draw}'}"
                     f"{rep.suffix().replace('-', '/')}/seed {seed}/{column}")
            if res.status == "error":
                self.summary.errors.append(CellError(where, res.message or "error", res.details.get("traceback")))
            elif res.status == "skipped":
                self.summary.skipped.append((where, res.message or "skipped"))

        def fail_cells(cells: list[tuple[int, str]], exc: BaseException, stage: str) -> None:
            for seed, mlabel in cells:
                store_cell(seed, mlabel, mlabel, error_result(exc, f"{stage} failed: "), {}, 0.0)

        drawn = "" if plan.draw is None else f", draw {plan.draw} of {suite.draws}"
        progress.log(f"[bold]{escape(named)}[/] ({escape(spec.plugin)}{drawn}): "
                     f"{len(plan.pending)} cells to compute")
        stages = self.summary.stages
        try:
            with stages.time(FIT, spec.label):
                fitted = conditional.fit(spec, data, suite, self.device, table, progress)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a generator that cannot fit fails its own cells only
            fail_cells(plan.pending, exc, "fit")
            return
        base["extra"] = {**base["extra"], **weights_record(fitted.checkpoints())}  # what the samples came from
        sampler = fitted.sampler_info()
        test, train = data.splits.test, data.splits.train
        finished = 0
        for seed in sorted({seed for seed, _ in plan.pending}):
            todo = [m for s, m in plan.pending if s == seed]
            try:
                with stages.time(SAMPLE, spec.label):
                    synth, took = fitted.draw(table, seed, suite.shape, test.affine, progress)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                fail_cells([(seed, m) for m in todo], exc, "sampling")
                continue
            # the draw's seconds per volume go into the records' sampler only: never into a cell key
            drawn_with = {**sampler, **(took.info() if took else {})}
            sources = [m.get("source_subject") for m in synth.metadata]
            if any(sources):  # derived copies of training scans (augment, mixup, label-swap) name their sources
                drawn_with["source_subjects"] = sources
            for mlabel in todo:
                t0 = time.perf_counter()
                metric: Metric = suite.metrics[mlabel].build()
                ctx = MetricContext(seed=seed, device=self.device, cache_dir=paths.cache_dir("features"),
                                    real_fingerprint=fingerprint([data.fingerprint, "test"]), progress=progress,
                                    conditioning=drawn_with["conditioning"])
                pairs = score_metric(metric, mlabel, synth, test, train, ctx)
                if suite.metrics[mlabel].stratify:  # the per-group columns, mlabel[group]
                    pairs += score_stratified(metric, mlabel, synth, test, train, ctx, suite.metrics[mlabel].stratify)
                seconds = time.perf_counter() - t0
                # sub-results first, the main cell last: its key marks the whole cell finished
                main = [p for p in pairs if p[0] == mlabel]
                subs = [p for p in pairs if p[0] != mlabel]
                for column, res in subs:
                    store_cell(seed, mlabel, column, res, drawn_with, seconds)
                if not main:
                    worst = next((r for _, r in subs if r.status == "error"), None)
                    marker = MetricResult(None, status="error" if worst else "ok",
                                          message=worst.message if worst else "sub-results stored as columns",
                                          details={"columns": [c for c, _ in subs], "marker": True})
                    main = [(mlabel, marker)]
                for column, res in main:
                    store_cell(seed, mlabel, column, res, drawn_with, seconds)
                self.summary.computed += 1
                stages.add(SCORE, time.perf_counter() - t0, spec.label, mlabel)  # storing included
                finished += 1
                progress(f"{named}: scoring", finished, len(plan.pending))
            # files to look at come after the seed's cells are stored: a full disk there loses no score
            if self.save_samples and seed == suite.seeds[0] and not plan.draw and rep.fit == 0 and is_main_process():
                with stages.time(FILES, spec.label):
                    self.summary.outputs += save_outputs(suite, spec.label, synth, test)
        with stages.time(FILES, spec.label):
            for cond, ckpt in fitted.checkpoints().items():  # the training curves, beside the montages
                if is_main_process() and (ckpt / "loss.png").is_file():
                    part = (f"-{cond}" if cond else "") + ("" if plan.draw is None else f"-draw{plan.draw}")
                    part += rep.suffix()
                    name = f"loss-{spec.label}{part}.png"
                    curve = inside(paths.runs_dir(), suite.name, suite.profile, name)
                    self.summary.outputs.append(copy_file(ckpt / "loss.png", curve))


def save_outputs(suite: Suite, label: str, synth: Cohort, test: Cohort) -> list[Path]:
    """Sample NIfTI files and a real-vs-generated montage for people to look at."""
    from benchgen.figures import montage
    from benchgen.volumes import write_cohort

    folder = inside(paths.runs_dir(), suite.name, suite.profile)
    files = write_cohort(synth, inside(folder, "samples", label))
    png = montage([("real", test.numpy()), (label, synth.numpy())], inside(folder, f"montage-{label}.png"), n=3,
                  title=f"{suite.name} ({suite.profile}): real vs {label}")
    return [files[0].parent, png]
