"""The preprocessing driver: a dataset source's items through a chain of steps, in parallel.

* :func:`process_items` — in memory, for the runner (which caches the resulting cohort): every item is
  loaded, validated (:func:`benchgen.qc.validate_input`) and run through the steps; an unusable item
  becomes a :class:`Failure` with a one-line reason instead of stopping the run.
* :func:`preprocess_folder` — folder to folder, for ``benchgen preprocess``: NIfTI outputs plus a JSON
  sidecar each (chain fingerprint, input sha256, tool versions, QC), resumable (a finished output whose
  sidecar matches is skipped), a QC CSV with outlier flags, a QC montage, a manifest of usable outputs.

``jobs = N`` runs N worker processes (spawn-safe: sources, steps and items are pickled), each limited
to one thread (BLAS, torch, SimpleITK) so N jobs use N cores; ``jobs = 1`` runs in this process, also
single-threaded, so timings of 1 and N jobs compare.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import os
import re
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from benchgen import qc as qclib
from benchgen.atomic import write_text
from benchgen.errors import BenchgenError, ConfigError, DataError
from benchgen.hashing import fingerprint
from benchgen.interfaces import DataItem, DatasetSource, PrepContext, Preprocessor
from benchgen.volumes import Volume, write_nifti

ProgressFn = Callable[..., None]
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")
CHUNK = 4  # items per task for in-memory work (amortises pickling of the source and steps)


def _no_progress(*_a: Any, **_k: Any) -> None:
    return None


@dataclass
class Failure:
    """An item that was excluded, with a one-line reason."""

    subject_id: str
    path: str | None
    reason: str


# ------------------------------------------------------------------------------------ one item
def _one_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, BenchgenError) else f"{type(exc).__name__}: {exc}"
    line = " ".join(str(text).split())
    return line[:300]


def _strip_where(reason: str, item: DataItem) -> str:
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
        return None, _strip_where(_one_line(exc), item), {}
    for step in steps:
        try:
            volume = step(volume, ctx)
        except Exception as exc:  # a step that cannot handle this scan excludes it, naming the step
            name = getattr(step, "name", type(step).__name__)
            return None, f"step '{name}': {_strip_where(_one_line(exc), item)}", {}
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


def _init_worker() -> None:
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
                                   initializer=_init_worker)
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


def _map(fn: Callable[..., list[Any]], args_prefix: tuple[Any, ...], tasks: list[Any], jobs: int,
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
    """Keep the first item of each subject (and session) and of each file content; the rest fail."""
    seen_id: dict[tuple[str, str], DataItem] = {}
    seen_key: dict[str, DataItem] = {}
    keep: list[tuple[int, DataItem]] = []
    fails: list[Failure] = []
    for i, item in enumerate(items):
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
                  progress: ProgressFn = _no_progress,
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
    for i, volume, reason, _qc in _map(_run_chunk, (source, list(steps), ctx), keep, jobs, CHUNK, progress,
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


# ----------------------------------------------------------------------------- folder to folder
@dataclass
class PreprocessReport:
    """What `preprocess_folder` did; the CLI renders it."""

    dst: Path
    chain_fingerprint: str
    processed: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    outliers: list[tuple[str, str]] = field(default_factory=list)  # (subject, reasons)
    qc_csv: Path | None = None
    montage: Path | None = None
    manifest: Path | None = None

    @property
    def usable(self) -> int:
        return len(self.processed) + len(self.skipped)


def tool_versions() -> dict[str, str]:
    """Versions of the libraries that can change preprocessed voxels."""
    from importlib import metadata

    out = {}
    for dist in ("benchgen", "numpy", "scipy", "scikit-image", "nibabel", "nilearn", "SimpleITK", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def detect_source(src: Path) -> str:
    """'manifest' for a CSV/TSV file, 'bids' for a folder with sub-*/[ses-*/]anat folders, else
    'nifti-folder'."""
    if src.is_file() and src.suffix.lower() in (".csv", ".tsv"):
        return "manifest"
    if src.is_dir():
        if any(p.is_dir() for p in src.glob("sub-*/anat")) or any(p.is_dir() for p in src.glob("sub-*/ses-*/anat")):
            return "bids"
    return "nifti-folder"


def build_source(src: Path, kind: str = "auto", params: dict[str, Any] | None = None) -> tuple[str, DatasetSource]:
    from benchgen import registry

    kind = detect_source(src) if kind == "auto" else kind
    base: dict[str, Any] = {"manifest": {"path": str(src)}, "bids": {"root": str(src)},
                            "nifti-folder": {"path": str(src)}}.get(kind, {})
    return kind, registry.create("datasets", kind, {**base, **(params or {})}, where=f"source '{kind}' params")  # type: ignore[return-value]


def build_chain(chain: str, params: dict[str, dict[str, Any]] | None = None) -> list[Preprocessor]:
    """'paper' or a comma-separated list of step names; `params` maps step name -> its params."""
    from benchgen import registry

    names = [n.strip() for n in chain.split(",") if n.strip()]
    if not names:
        raise ConfigError("--chain is empty; give 'paper' or step names separated by commas")
    params = dict(params or {})
    unknown = set(params) - set(names)
    if unknown:
        raise ConfigError(f"--param names step(s) {sorted(unknown)} that are not in the chain {names}")
    return [registry.create("preprocessors", n, params.get(n), where=f"preprocessor '{n}' params")  # type: ignore[misc]
            for n in names]


def chain_fingerprint(steps: Sequence[Preprocessor], ctx: PrepContext) -> str:
    return fingerprint({"steps": [s.config() for s in steps], "shape": list(ctx.target_shape),
                        "first_volume": ctx.first_volume})


def _output_path(item: DataItem, src: Path, dst: Path) -> Path:
    if item.path:
        p = Path(item.path)
        root = src if src.is_dir() else src.parent
        try:
            rel = p.resolve().relative_to(root.resolve())
        except ValueError:
            rel = Path(item.subject_id) / p.name
        name = rel.name
        for suffix in (".nii.gz", ".nii"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        return dst / rel.parent / f"{name}.nii.gz"
    return dst / f"{item.subject_id}.nii.gz"


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name[: -len(".nii.gz")] + ".json")


def _atomic_text(path: Path, text: str) -> None:
    write_text(path, text)


def _finished(output: Path, item: DataItem, chain_fp: str) -> dict[str, Any] | None:
    side = sidecar_path(output)
    if not (output.is_file() and side.is_file()):
        return None
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("chain_fingerprint") != chain_fp or meta.get("input_sha256") != item.key:
        return None
    return meta


def _write_chunk(source: DatasetSource, steps: Sequence[Preprocessor], ctx: PrepContext, header: dict[str, Any],
                 chunk: list[tuple[int, DataItem, str]]) -> list[tuple[int, str | None, dict[str, Any]]]:
    """Worker: preprocess items and write each output (NIfTI, then its sidecar: both atomic)."""
    out = []
    for i, item, output in chunk:
        volume, reason, rec = run_item(source, steps, ctx, item)
        if volume is None:
            out.append((i, reason, {}))
            continue
        path = Path(output)
        write_nifti(path, volume.array, volume.affine)
        meta = {**header, "subject_id": item.subject_id, "input": item.path, "input_sha256": item.key,
                "metadata": _jsonable(item.metadata), "qc": rec,
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        _atomic_text(sidecar_path(path), json.dumps(meta, indent=1))
        out.append((i, None, rec))
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=str))


def preprocess_folder(src: str | Path, dst: str | Path, chain: str = "paper", jobs: int = 1,
                      strict: bool = False, first_volume: bool = False,
                      target_shape: tuple[int, int, int] = (84, 128, 84), source: str = "auto",
                      source_params: dict[str, Any] | None = None,
                      chain_params: dict[str, dict[str, Any]] | None = None,
                      progress: ProgressFn = _no_progress, montage_max: int = 24) -> PreprocessReport:
    """Preprocess every scan under `src` into `dst` (see the module docstring). Raises DataError when
    nothing usable remains; `strict` is the caller's business (the report lists the failures)."""
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if not src.exists():
        raise DataError(f"{src}: no such file or folder")
    src_root = (src if src.is_dir() else src.parent).resolve()
    dst_r = dst.resolve()
    if dst_r == src_root or src_root in dst_r.parents:
        raise ConfigError(f"DST {dst} is inside SRC {src}; benchgen never writes into the source folder",
                          "choose an output folder outside SRC")
    if jobs < 1:
        raise ConfigError(f"--jobs must be ≥ 1, got {jobs}")
    try:
        dst.mkdir(parents=True, exist_ok=True)
        probe = dst / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{dst}: output folder is not writable ({exc.strerror or exc})") from None
    kind, src_plugin = build_source(src, source, source_params)
    steps = build_chain(chain, chain_params)
    ctx = PrepContext(target_shape=tuple(target_shape), first_volume=first_volume)  # type: ignore[arg-type]
    chain_fp = chain_fingerprint(steps, ctx)
    items = src_plugin.items()
    if not items:
        raise DataError(f"{src}: no scans found by source '{kind}'")
    keep, failures = split_duplicates(items)
    report = PreprocessReport(dst=dst, chain_fingerprint=chain_fp, failures=failures)
    header = {"chain": [s.config() for s in steps], "chain_fingerprint": chain_fp,
              "target_shape": list(ctx.target_shape), "first_volume": first_volume, "source": kind,
              "tools": tool_versions()}
    records: dict[int, dict[str, Any]] = {}
    outputs: dict[int, Path] = {}
    todo = []
    for i, item in keep:
        out = _output_path(item, src, dst)
        outputs[i] = out
        done = _finished(out, item, chain_fp)
        if done is not None:
            records[i] = dict(done.get("qc") or {})
            report.skipped.append(out)
        else:
            todo.append((i, item, str(out)))
    by_index = dict(keep)
    for i, reason, rec in _map(_write_chunk, (src_plugin, steps, ctx, header), todo, jobs, 1, progress,
                               "preprocess"):
        if reason is not None:
            item = by_index[i]
            report.failures.append(Failure(item.subject_id, item.path, reason))
        else:
            records[i] = rec
            report.processed.append(outputs[i])
    usable = sorted(records)
    report.qc_csv, report.outliers = _write_qc(dst, items, keep, records, outputs, report.failures)
    if not usable:
        first = report.failures[0] if report.failures else None
        detail = f" (first: {first.path or first.subject_id}: {first.reason})" if first else ""
        raise DataError(f"nothing usable in {src}: all {len(items)} scan(s) failed{detail}")
    report.manifest = _write_manifest(dst, [(by_index[i], outputs[i]) for i in usable])
    if kind == "bids":  # keep DST a BIDS-like folder whose participants.tsv carries the metadata
        _write_participants(dst / "participants.tsv", [by_index[i] for i in usable])
    flagged = {sid for sid, _ in report.outliers}
    pick = [i for i in usable if by_index[i].subject_id in flagged]
    rest = [i for i in usable if by_index[i].subject_id not in flagged]
    room = max(0, montage_max - len(pick))
    if room and rest:
        pick += [rest[int(k)] for k in np.unique(np.linspace(0, len(rest) - 1, min(room, len(rest))).round())]
    pick = sorted(pick)[:montage_max]
    from benchgen.volumes import read_nifti

    arrays = [read_nifti(outputs[i]).array for i in pick]
    labels = [by_index[i].subject_id + (" (outlier)" if by_index[i].subject_id in flagged else "") for i in pick]
    report.montage = qclib.montage(arrays, labels, dst / "qc_montage.png",
                                   title=f"{len(usable)} volumes, chain {chain} ({chain_fp})")
    return report


def _write_qc(dst: Path, items: Sequence[DataItem], keep: list[tuple[int, DataItem]],
              records: dict[int, dict[str, Any]], outputs: dict[int, Path],
              failures: list[Failure]) -> tuple[Path, list[tuple[str, str]]]:
    usable = sorted(records)
    flags = qclib.flag_outliers([records[i] for i in usable])
    by_index = dict(keep)
    rows: list[dict[str, Any]] = []
    outliers = []
    for i, flag in zip(usable, flags):
        item = by_index[i]
        rows.append({"subject_id": item.subject_id, "input": item.path or "",
                     "output": str(outputs[i].relative_to(dst)),
                     "status": "ok", "reason": "", "outlier": bool(flag), "outlier_reason": flag, **records[i]})
        if flag:
            outliers.append((item.subject_id, flag))
    for f in failures:
        rows.append({"subject_id": f.subject_id, "input": f.path or "", "output": "", "status": "failed",
                     "reason": f.reason, "outlier": "", "outlier_reason": ""})
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    path = dst / "qc.csv"
    _atomic_text(path, buf.getvalue())
    return path, outliers


def _write_participants(path: Path, items: Sequence[DataItem]) -> Path:
    """participants.tsv (participant_id + metadata columns; n/a for missing) of `items`, one row each."""
    skip = {"session", "run"}
    cols: list[str] = []
    rows: dict[str, DataItem] = {}
    for item in items:
        rows.setdefault(item.subject_id, item)
        cols += [k for k in item.metadata if k not in cols and not k.startswith("_") and k not in skip]
    lines = ["\t".join(["participant_id", *cols])]
    for sid, item in rows.items():
        vals = [item.metadata.get(c) for c in cols]
        lines.append("\t".join([sid, *["n/a" if v is None else str(v) for v in vals]]))
    _atomic_text(path, "\n".join(lines) + "\n")
    return path


def _write_manifest(dst: Path, pairs: list[tuple[DataItem, Path]]) -> Path:
    """manifest.csv (path, subject, metadata columns) of the usable outputs: a `manifest` source."""
    cols: list[str] = []
    for item, _ in pairs:
        cols += [k for k in item.metadata if k not in cols and not k.startswith("_")]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["path", "subject", *cols])
    for item, out in pairs:
        writer.writerow([str(out.relative_to(dst)), item.subject_id,
                         *["" if item.metadata.get(c) is None else item.metadata.get(c) for c in cols]])
    path = dst / "manifest.csv"
    _atomic_text(path, buf.getvalue())
    return path


# ------------------------------------------------------------------------------------------ export
@dataclass
class ExportReport:
    dst: Path
    written: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    participants: Path | None = None


def _export_chunk(source: DatasetSource, dst: str, layout: str,
                  chunk: list[tuple[int, DataItem]]) -> list[tuple[int, str | None, str | None]]:
    out = []
    for i, item in chunk:
        try:
            volume = source.load(item)
            qclib.validate_input(volume, first_volume=True)
        except Exception as exc:  # one bad item is reported, the rest are written
            out.append((i, None, _strip_where(_one_line(exc), item)))
            continue
        path = export_path(Path(dst), item.subject_id, layout)
        write_nifti(path, volume.array, volume.affine)
        out.append((i, str(path), None))
    return out


def export_path(dst: Path, subject_id: str, layout: str) -> Path:
    sid = subject_id if subject_id.startswith("sub-") else f"sub-{re.sub(r'[^A-Za-z0-9]', '', subject_id)}"
    if layout == "bids":
        return dst / sid / "anat" / f"{sid}_T1w.nii.gz"
    return dst / f"{sid}_T1w.nii.gz"


def export_dataset(source: DatasetSource, dst: str | Path, layout: str = "bids", n: int | None = None,
                   jobs: int = 1, progress: ProgressFn = _no_progress) -> ExportReport:
    """Write a source's scans as NIfTI files (``bids``: sub-X/anat/sub-X_T1w.nii.gz, or ``flat``)
    plus participants.tsv (its metadata) and dataset_description.json, so any source — the phantom
    above all — can stand in for a user's dataset on the nifti-folder/bids/manifest path."""
    if layout not in ("bids", "flat"):
        raise ConfigError(f"--layout {layout!r}: choose bids or flat")
    dst = Path(dst).expanduser()
    try:
        dst.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{dst}: cannot create the output folder ({exc.strerror or exc})") from None
    items = source.items()
    if n is not None:
        items = items[:n]
    report = ExportReport(dst)
    written: dict[int, Path] = {}
    for i, path, reason in _map(_export_chunk, (source, str(dst), layout), list(enumerate(items)), jobs, CHUNK,
                                progress, "export"):
        if path is None:
            report.failures.append(Failure(items[i].subject_id, items[i].path, reason or "unknown error"))
        else:
            written[i] = Path(path)
    report.written = [written[i] for i in sorted(written)]
    renamed = [DataItem(written[i].name.split("_T1w")[0], items[i].key, items[i].metadata) for i in sorted(written)]
    report.participants = _write_participants(dst / "participants.tsv", renamed)
    desc = {"Name": f"benchgen export of dataset source '{getattr(source, 'name', '?')}'", "BIDSVersion": "1.9.0",
            "DatasetType": "raw", "GeneratedBy": [{"Name": "benchgen", "Version": tool_versions()["benchgen"]}],
            "benchgen_source": source.config()}
    _atomic_text(dst / "dataset_description.json", json.dumps(desc, indent=1, default=str))
    return report
