"""The preprocessing driver: a dataset source's items through a chain of steps, in parallel.

:func:`process_items` works in memory, for the runner (which caches the resulting cohort): every item
is loaded, validated (:func:`benchgen.data.qc.validate_input`) and run through the steps; an unusable item
becomes a :class:`Failure` with a one-line reason instead of stopping the run. :func:`parallel_map` is
the pool that the folder-to-folder and export code (``folder.py``, ``export.py``) reuse.

``jobs = N`` runs N worker processes (spawn-safe: sources, steps and items are pickled), each limited
to one thread (BLAS, torch, SimpleITK) so N jobs use N cores; ``jobs = 1`` runs in this process, also
single-threaded, so timings of 1 and N jobs compare. Workers exit on their own when the process that
started them dies (kill -9 included), so no worker or resource tracker outlives a killed run.
"""

from __future__ import annotations

import contextlib
import os
import re
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from benchgen.data import qc as qclib
from benchgen.errors import BenchgenError, ConfigError
from benchgen.interfaces import DataItem, DatasetSource, PrepContext, Preprocessor
from benchgen.progress import ProgressFn, no_progress
from benchgen.safety import subject_problem
from benchgen.volumes import Volume

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")
CHUNK = 4  # items per task for in-memory work (amortises pickling of the source and steps)


@dataclass
class Failure:
    """An item that was excluded, with a one-line reason."""

    subject_id: str
    path: str | None
    reason: str


# ------------------------------------------------------------------------------------ one item
def one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, BenchgenError) else f"{type(exc).__name__}: {exc}"
    line = " ".join(str(text).split())
    return line[:300]


def strip_where(reason: str, item: DataItem) -> str:
    """Drop a leading '<path>: ' from a reason (the summary already names the file)."""
    for prefix in (item.path, item.subject_id):
        if prefix and reason.startswith(f"{prefix}: "):
            return reason[len(prefix) + 2:]
    return reason


def run_item(source: DatasetSource, steps: Sequence[Preprocessor], ctx: PrepContext,
             item: DataItem) -> tuple[Volume | None, str | None, dict[str, Any]]:
    """Load, validate and preprocess one item: (volume, None, qc) or (None, reason, {})."""
    try:
        volume = source.load(item)
        volume.subject_id = item.subject_id
        volume.metadata = {**dict(item.metadata), **{k: v for k, v in volume.metadata.items()
                                                     if k not in item.metadata}}
        if volume.source is None:
            volume.source = item.path or item.subject_id
        qclib.validate_input(volume, ctx.first_volume)
    except Exception as exc:  # any loader failure excludes this item only
        return None, strip_where(one_line(exc), item), {}
    for step in steps:
        try:
            volume = step(volume, ctx)
        except Exception as exc:  # a step that cannot handle this scan excludes it, naming the step
            name = getattr(step, "name", type(step).__name__)
            return None, f"step '{name}': {strip_where(one_line(exc), item)}", {}
        if not np.isfinite(volume.array).all():
            return None, f"step '{getattr(step, 'name', '?')}' produced NaN or Inf voxels", {}
    step_qc = qclib.pop_qc(volume)
    return volume, None, qclib.qc_record(volume, step_qc)


# ---------------------------------------------------------------------------------- threads/pool
@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS/OpenMP, torch and SimpleITK to one thread in this process (restored afterwards)."""
    import torch
    from threadpoolctl import threadpool_limits

    old_torch = torch.get_num_threads()
    sitk_old = None
    try:
        import SimpleITK as sitk

        sitk_old = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    except ImportError:  # SimpleITK is a dependency, but third-party chains may not need it
        sitk = None  # type: ignore[assignment]
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(old_torch)
        if sitk is not None and sitk_old is not None:
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(sitk_old)


PARENT_POLL_S = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """A daemon thread that ends this worker as soon as its parent is gone (kill -9 included: no cleanup
    runs there, and the pool's queues would keep the worker — and through it the resource tracker —
    waiting for minutes). A worker's parent is the process that made the pool (spawn), so a different
    ``getppid()`` means it died and this process was re-parented."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent_pid:  # already gone while this worker was starting
        os._exit(1)
    threading.Thread(target=watch, name="benchgen-parent-watch", daemon=True).start()


def _init_worker(parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    except ImportError:
        pass
    threadpool_limits(limits=1)


@contextlib.contextmanager
def _pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """A spawn pool whose workers start with one-thread environment variables."""
    import multiprocessing

    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update({k: "1" for k in THREAD_ENV})
    try:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(os.getpid(),))
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_chunk(source: DatasetSource, steps: Sequence[Preprocessor], ctx: PrepContext,
               chunk: list[tuple[int, DataItem]]) -> list[tuple[int, Volume | None, str | None, dict[str, Any]]]:
    return [(i, *run_item(source, steps, ctx, item)) for i, item in chunk]


def _chunks(seq: list[Any], size: int) -> list[list[Any]]:
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def parallel_map(fn: Callable[..., list[Any]], args_prefix: tuple[Any, ...], tasks: list[Any], jobs: int,
         chunk: int, progress: ProgressFn, label: str) -> Iterator[Any]:
    """Yield results of ``fn(*args_prefix, chunk_of_tasks)`` (lists flattened) in completion order."""
    total = len(tasks)
    done = 0
    progress(label, 0, total)
    if jobs <= 1 or total <= 1:
        with single_threaded():
            for part in _chunks(tasks, 1):
                for res in fn(*args_prefix, part):
                    done += 1
                    progress(label, done, total)
                    yield res
        return
    with _pool(jobs) as pool:
        pending = {pool.submit(fn, *args_prefix, part) for part in _chunks(tasks, chunk)}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                for res in fut.result():
                    done += 1
                    progress(label, done, total)
                    yield res


# --------------------------------------------------------------------------------- duplicates
def _identity(item: DataItem) -> tuple[str, str]:
    return item.subject_id, str(item.metadata.get("session") or "")


def split_duplicates(items: Sequence[DataItem]) -> tuple[list[tuple[int, DataItem]], list[Failure]]:
    """Keep the first item of each subject (and session) and of each file content, and only subject ids that
    can name files (:func:`benchgen.safety.subject_problem`); the rest fail."""
    seen_id: dict[tuple[str, str], DataItem] = {}
    seen_key: dict[str, DataItem] = {}
    keep: list[tuple[int, DataItem]] = []
    fails: list[Failure] = []
    for i, item in enumerate(items):
        unsafe = subject_problem(item.subject_id)
        if unsafe:  # it would name output files: refused before anything is written
            fails.append(Failure(item.subject_id, item.path, unsafe))
            continue
        ident = _identity(item)
        if ident in seen_id:
            first = seen_id[ident]
            session = f" session {ident[1]}" if ident[1] else ""
            fails.append(Failure(item.subject_id, item.path, f"duplicate subject '{item.subject_id}'{session} "
                                 f"(kept {first.path or first.subject_id})"))
            continue
        if item.path and re.fullmatch(r"[0-9a-f]{64}", item.key) and item.key in seen_key:
            first = seen_key[item.key]
            fails.append(Failure(item.subject_id, item.path, f"duplicate file: same content as {first.path}"))
            continue
        seen_id[ident] = item
        seen_key[item.key] = item
        keep.append((i, item))
    return keep, fails


def process_items(source: DatasetSource, steps: Sequence[Preprocessor], ctx: PrepContext, jobs: int = 1,
                  progress: ProgressFn = no_progress,
                  items: Sequence[DataItem] | None = None) -> tuple[list[Volume], list[Failure]]:
    """Every item of `source` through `steps`: (usable volumes in item order, failures).

    Duplicated subjects and file contents, unreadable or invalid files and steps that fail on a scan
    become failures; nothing else stops the run (a bug in a step does, through its exception type only
    if it is a KeyboardInterrupt/SystemExit).
    """
    if jobs < 1:
        raise ConfigError(f"jobs must be ≥ 1, got {jobs}")
    items = list(source.items() if items is None else items)
    keep, failures = split_duplicates(items)
    results: dict[int, Volume] = {}
    by_index = dict(keep)
    for i, volume, reason, _qc in parallel_map(_run_chunk, (source, list(steps), ctx), keep, jobs, CHUNK, progress,
                                       "preprocess"):
        if volume is None:
            item = by_index[i]
            failures.append(Failure(item.subject_id, item.path, reason or "unknown error"))
        else:
            results[i] = volume
    position: dict[tuple[str, str | None], int] = {}
    for k, it in enumerate(items):
        position.setdefault((it.subject_id, it.path), k)
    failures.sort(key=lambda f: position.get((f.subject_id, f.path), 0))
    return [results[i] for i in sorted(results)], failures


