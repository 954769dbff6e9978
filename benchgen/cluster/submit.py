"""The submitter: merge what earlier attempts left, plan the units still to do, hand them to submitit (SLURM job
arrays with ``afterok`` dependencies, or local processes once their fit is done), show units done / running /
failed while waiting, then merge every shard into the store. Interrupt it and run it again: finished units
are merged, not rerun; SLURM jobs still queued or running are waited for, not submitted again."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from benchgen import paths
from benchgen.cluster.ledger import RunFolder, check_run_folder, default_run_dir
from benchgen.cluster.plan import Unit, UnitPlan, plan_units
from benchgen.cluster.resources import ExecutorConfig, Resources, executor_config
from benchgen.cluster.shards import MergeReport, RunIdentity, merge_shards
from benchgen.cluster.slurm_state import alive, squeue_states
from benchgen.cluster.worker import UnitJob
from benchgen.errors import ConfigError
from benchgen.paths import suite_run_dir
from benchgen.progress import ProgressReporter
from benchgen.results.cells import plan_cells
from benchgen.results.store import CellStore, ResultStore
from benchgen.runner import CellError, RunSummary
from benchgen.suite.model import Suite

EXECUTORS = ("inprocess", "local", "slurm")
KILLED = ("TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL", "PREEMPTED", "DEADLINE", "INTERRUPTED",
          "BOOT_FAIL")
POLL_S = 0.5


def check_executor(name: str, submitting: bool = True) -> None:
    """A known executor; slurm also needs sbatch when jobs are submitted (a dry run only prints the plan)."""
    if name not in EXECUTORS:
        raise ConfigError(f"--executor {name}: unknown executor", f"choose {', '.join(EXECUTORS)}")
    if submitting and name == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("--executor slurm: no sbatch on PATH (this machine is no SLURM submit host)",
                          "run on the cluster's login node, or use --executor local")


def check_partitions(config: ExecutorConfig) -> None:
    """An unknown partition is one line before anything is submitted (sbatch would refuse job by job)."""
    wanted = {r.partition for r in [*config.fit.values(), *config.score.values()] if r.partition}
    if not wanted:
        return
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=60)
    have = {p.rstrip("*") for p in out.stdout.split()}
    for name in sorted(wanted - have):
        raise ConfigError(f"executor.partition: '{name}' is no partition of this cluster",
                          f"choose one of {', '.join(sorted(have)) or '(sinfo lists none)'}")


def _run_dir(suite: Suite, config: ExecutorConfig, run_dir: Path | None) -> Path:
    """The command line's --run-dir (anywhere), else the suite's (inside BENCHGEN_HOME), else the default;
    a non-empty folder that is no run folder is refused."""
    if run_dir:
        folder = Path(run_dir).expanduser().resolve()
    elif config.run_dir:
        folder = suite_run_dir(config.run_dir)
    else:
        folder = default_run_dir(suite.name, suite.profile)
    return check_run_folder(folder)


def _plan(suite: Suite, store: CellStore, config: ExecutorConfig, only: list[str] | None) -> tuple[UnitPlan, str]:
    from benchgen.data.load import list_dataset

    fp = list_dataset(suite).fingerprint
    return plan_units(suite, plan_cells(suite, suite.generator_labels(only), store, fp), config, fp), fp


def dry_run(suite: Suite, results: Path, executor: str, overrides: dict[str, Any] | None = None,
            run_dir: Path | None = None, only: list[str] | None = None) -> tuple[UnitPlan, Path]:
    """The plan, from the store and the run folder's shards as they are; nothing is written or submitted."""
    from benchgen.cluster.shards import read_shards
    from benchgen.results.store import open_existing

    config = executor_config(suite, overrides)
    folder = _run_dir(suite, config, run_dir)
    shards = read_shards(folder, RunIdentity(suite.name, suite.version, suite.profile))
    in_shards = {r.cell_key for s in shards.shards for r in s.records if r.status != "error"}
    store = open_existing(results) if Path(results).is_file() else None

    class _Seen:  # the store's finished cells, and those still only in shards
        def done_keys(self, keys: Any) -> set[str]:
            keys = list(keys)
            return (store.done_keys(keys) if store else set()) | (in_shards & set(keys))

        def put(self, record: Any) -> None:
            raise AssertionError("a dry run writes nothing")

        def close(self) -> None:
            pass

    try:
        plan, _ = _plan(suite, _Seen(), config, only)
    finally:
        if store:
            store.close()
    return plan, folder


def run_on_executor(suite: Suite, results: Path, executor: str, overrides: dict[str, Any] | None = None, *,
                    run_dir: Path | None = None, only: list[str] | None = None, quiet: bool = False,
                    console: Any = None) -> RunSummary:
    """Run the suite's pending cells as jobs of `executor` (local | slurm); the store ends up as an in-process
    run would leave it."""
    check_executor(executor)
    start = time.perf_counter()
    config = executor_config(suite, overrides)
    if executor == "slurm":
        check_partitions(config)
    identity = RunIdentity(suite.name, suite.version, suite.profile)
    folder = RunFolder(_run_dir(suite, config, run_dir), identity, results, executor)
    store = ResultStore(results)
    try:  # what earlier attempts left is merged first: the plan then only holds what is still missing
        merged = merge_shards(folder.path, store, identity)
        plan, fp = _plan(suite, store, config, only)
    finally:
        store.close()
    summary = RunSummary(suite.name, suite.profile, results, data_fingerprint=fp, cached=plan.cached)
    earlier = _earlier_run(folder)
    previous = earlier.jobs if earlier else {}
    # units an earlier attempt finished stay listed (status shows the whole run), with their jobs
    kept = [u for u in (earlier.units if earlier else []) if u.id in merged.complete_units
            and u.id not in plan.by_id()]
    folder.units = kept + plan.units
    folder.jobs = {u.id: previous[u.id] for u in kept if u.id in previous}
    folder.save_plan()
    with ProgressReporter(console=console, enabled=not quiet, interval_s=_interval()) as progress:
        for line in merged.problems:
            progress.log(f"[yellow]shard ignored[/]: {line}")
        if merged.added:
            progress.log(f"merged {merged.added} records left by earlier jobs")
        progress.log(f"run folder {folder.path}: {len(plan.units)} units ({executor})")
        if plan.units:
            queue = _Queue(suite, folder, plan, fp, executor, config, progress, previous)
            try:
                queue.run()
            except KeyboardInterrupt:
                queue.interrupted()
                raise
            finally:
                final = _merge(folder)
            for line in final.problems:
                progress.log(f"[yellow]shard ignored[/]: {line}")
            _summarise(summary, queue)
        progress.log(f"{summary.computed} cells computed, {summary.cached} cached, {len(summary.errors)} errors")
    summary.seconds = time.perf_counter() - start
    return summary


def _interval() -> float:
    from benchgen.runner import progress_interval

    return progress_interval()


def _merge(folder: RunFolder) -> MergeReport:
    store = ResultStore(folder.results)
    try:
        return merge_shards(folder.path, store, folder.identity)
    finally:
        store.close()


def _earlier_run(folder: RunFolder) -> RunFolder | None:
    """The run folder as an earlier submitter of the same suite left it (None: none, or another suite's)."""
    from benchgen.cluster.ledger import RUN_FILE, open_run_folder

    if not (folder.path / RUN_FILE).is_file():
        return None
    try:
        earlier = open_run_folder(folder.path)
    except ConfigError:
        return None
    return earlier if earlier.identity == folder.identity else None


def _summarise(summary: RunSummary, queue: _Queue) -> None:
    seen_failures = set()
    for result in queue.results.values():
        summary.computed += int(result.get("computed", 0))  # (a unit's cached cells are in the plan's count)
        for e in result.get("errors", []):
            summary.errors.append(CellError(e["cell"], e["message"], e.get("traceback")))
        summary.skipped += [(where, why) for where, why in result.get("skipped", [])]
        for where, reason in result.get("data_failures", []):
            if where not in seen_failures:
                seen_failures.add(where)
                summary.data_failures.append((where, reason))
        summary.outputs += [Path(p) for p in result.get("outputs", []) if Path(p) not in summary.outputs]
    for unit_id, reason in queue.failed.items():
        summary.errors.append(CellError(unit_id, reason))


class _Queue:
    """Units waiting, submitted and ended. Local: a unit is submitted once its dependencies are done, at most
    `array_parallelism` (default: one per CPU core) at once. SLURM: everything at once, as arrays of units
    with the same resources and dependencies; a score array waits on its fit job (``afterok``)."""

    def __init__(self, suite: Suite, folder: RunFolder, plan: UnitPlan, fp: str, executor: str,
                 config: ExecutorConfig, progress: ProgressReporter, previous: dict[str, dict[str, Any]]):
        self.suite, self.folder, self.fp, self.kind, self.progress = suite, folder, fp, executor, progress
        self.units = plan.by_id()
        self.waiting = list(self.units)
        self.jobs: dict[str, Any] = {}  # unit id -> submitit job
        self.results: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}  # unit id -> reason (one line)
        self.limit = config.array_parallelism or ((os.cpu_count() or 1) if executor == "local" else 0)
        self.array_parallelism = config.array_parallelism
        # absolute: a job may start in another folder, on another node
        self.env = {"BENCHGEN_HOME": str(paths.home().resolve())}
        if "BENCHGEN_CACHE" in os.environ:
            self.env["BENCHGEN_CACHE"] = str(paths.cache_dir().resolve())
        if executor == "slurm":
            self._reattach(previous)

    # ---------------------------------------------------------------------------------- the loop
    def run(self) -> None:
        while self.waiting or self.jobs:
            self._submit_ready()
            self._collect()
            ended = len(self.results) + len(self.failed)
            self.progress(f"{self.suite.name}: units", ended, len(self.units), running=len(self.jobs),
                          failed=len(self.failed))
            if self.jobs:
                time.sleep(POLL_S)

    def interrupted(self) -> None:
        if self.kind == "local":  # our own child processes: stop them, their shards keep what they finished
            for job in self.jobs.values():
                job.cancel(check=False)
        elif self.jobs:
            self.progress.log(f"[yellow]{len(self.jobs)} jobs keep running on the cluster[/]; "
                              f"`benchgen status {self.folder.path}` shows them, a re-run merges and waits for them")

    # ----------------------------------------------------------------------------- submitting
    def _ready(self, unit: Unit) -> bool | None:
        """True: submit now; False: not yet; None: never (a dependency failed)."""
        for dep in unit.depends:
            if dep in self.failed:
                return None
            if dep not in self.results and (self.kind == "local" or dep not in self.jobs):
                return False
        return True

    def _submit_ready(self) -> None:
        groups: dict[tuple[Resources, tuple[str, ...]], list[Unit]] = {}
        for uid in list(self.waiting):
            unit = self.units[uid]
            ready = self._ready(unit)
            if ready is None:
                self.waiting.remove(uid)
                self._fail(uid, f"not run: {', '.join(d for d in unit.depends if d in self.failed)} failed")
            elif ready and (not self.limit or self.kind != "local" or
                            len(self.jobs) + sum(map(len, groups.values())) < self.limit):
                after = tuple(self.jobs[d].job_id for d in unit.depends if d in self.jobs)
                groups.setdefault((unit.resources, after), []).append(unit)
                self.waiting.remove(uid)
        for (res, after), units in groups.items():
            self._submit(units, res, after)

    def _executor(self, res: Resources, after: tuple[str, ...], n: int) -> Any:
        import submitit

        ex = submitit.AutoExecutor(folder=self.folder.path / "jobs", cluster=self.kind)  # <job id>_* files
        params: dict[str, Any] = dict(timeout_min=res.time_min, cpus_per_task=res.cpus, mem_gb=res.mem_gb,
                                      gpus_per_node=res.gpus, name=f"benchgen-{self.suite.name}")
        if self.kind == "slurm":
            extra = {"dependency": "afterok:" + ":".join(after)} if after else {}
            # workers ignore submitit's pre-timeout USR2 (see worker.run_unit); sent as late as SLURM allows, it
            # cannot kill a job still starting up (before the handler is set) under a short limit
            params.update(slurm_partition=res.partition or None, slurm_additional_parameters=extra,
                          slurm_array_parallelism=self.array_parallelism or n, slurm_signal_delay_s=1)
            if res.account:
                params["slurm_account"] = res.account
            params = {k: v for k, v in params.items() if v is not None}
        ex.update_parameters(**params)
        return ex

    def _submit(self, units: list[Unit], res: Resources, after: tuple[str, ...]) -> None:
        ex = self._executor(res, after, len(units))
        calls = [UnitJob(self.suite, u, self.fp, str(self.folder.path), self.env) for u in units]
        try:
            with ex.batch():
                jobs = [ex.submit(call) for call in calls]
        except Exception as exc:  # sbatch refused (bad account, time over the partition's limit, ...)
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            for u in units:
                self._fail(u.id, f"not submitted: {reason}")
            return
        for unit, job in zip(units, jobs):
            self.jobs[unit.id] = job
            self.folder.note(unit.id, job_id=job.job_id, executor=self.kind, state="submitted", reason="",
                             folder=str(job.paths.folder))

    def _reattach(self, previous: dict[str, dict[str, Any]]) -> None:
        """SLURM jobs of an interrupted submitter that are still queued or running: wait for them."""
        import submitit

        ours = {uid: info for uid, info in previous.items() if uid in self.units and info.get("state") == "submitted"
                and info.get("executor") == "slurm"}
        states = squeue_states([info["job_id"] for info in ours.values()])
        for uid, info in ours.items():
            if alive(states.get(info["job_id"])):
                self.jobs[uid] = submitit.SlurmJob(folder=info["folder"], job_id=info["job_id"])
                self.waiting.remove(uid)
                self.folder.note(uid, **info)

    # ------------------------------------------------------------------------------- collecting
    def _collect(self) -> None:
        states = squeue_states([j.job_id for j in self.jobs.values()]) if self.kind == "slurm" else {}
        for uid, job in list(self.jobs.items()):
            finished = job.paths.result_pickle.exists()
            if not finished:
                # SLURM: squeue says it ended (or forgot it); local: the process is gone
                ended = not alive(states.get(job.job_id)) if self.kind == "slurm" else job.done()
                if not ended:
                    continue
                finished = job.paths.result_pickle.exists()  # it may have written it just now
            del self.jobs[uid]
            # SLURM: squeue's word only (submitit's sacct call fails loudly without an accounting database)
            state = states.get(job.job_id) or (str(job.state) if self.kind == "local" else "")
            exc = job.exception() if finished else None  # without a result file, submitit would wait forever
            if finished and exc is None:
                self.results[uid] = job.result()
                self.folder.note(uid, state="done")
                if self.results[uid].get("fit_error"):
                    self.progress.log(f"[yellow]{uid}[/]: {self.results[uid]['fit_error']} "
                                      "(its cells store the error)")
            else:
                self._fail(uid, why_failed(job.job_id, state, exc, self.kind))

    def _fail(self, uid: str, reason: str) -> None:
        self.failed[uid] = reason
        self.folder.note(uid, state="failed", reason=reason)
        self.progress.log(f"[red]failed[/] {uid}: {reason}")
        for other, job in list(self.jobs.items()):  # SLURM holds them for an afterok that can never come
            if uid in self.units[other].depends:
                del self.jobs[other]
                job.cancel(check=False)
                self._fail(other, f"not run: {uid} failed")


def why_failed(job_id: str, state: str, exc: BaseException | None, kind: str = "slurm") -> str:
    """One line: killed (time limit, memory, cancelled: by the scheduler on SLURM), or the worker's own error."""
    state = (state.split() or [""])[0].upper()
    if exc is None:
        who = "by the scheduler " if kind == "slurm" and state in KILLED else ""
        if state in KILLED or (kind == "local" and state):
            return f"job {job_id} killed {who}({state}); the cells it finished are kept, run again to resubmit the rest"
        if not state:  # e.g. an array task cancelled before it started: squeue drops it at once
            return f"job {job_id} left the queue without a result (cancelled?); run again to resubmit it"
        return f"job {job_id} ended without a result ({state}); run again to resubmit it"
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"job {job_id}: {lines[-1] if lines else type(exc).__name__}"
