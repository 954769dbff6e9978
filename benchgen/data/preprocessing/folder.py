"""Folder to folder, for ``benchgen preprocess``: NIfTI outputs plus a JSON sidecar each (chain
fingerprint, input sha256, tool versions, QC), resumable (a finished output whose sidecar matches is
skipped), a QC CSV with outlier flags, a QC montage and a manifest of the usable outputs."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchgen.atomic import write_text
from benchgen.data import qc as qclib
from benchgen.data.preprocessing.driver import (
    Failure,
    parallel_map,
    run_item,
    split_duplicates,
)
from benchgen.data.preprocessing.export import write_participants
from benchgen.errors import BenchgenError, ConfigError, DataError
from benchgen.figures import montage
from benchgen.hashing import fingerprint
from benchgen.interfaces import DataItem, DatasetSource, PrepContext, Preprocessor
from benchgen.progress import ProgressFn, no_progress
from benchgen.provenance import tool_versions
from benchgen.safety import inside
from benchgen.volumes import write_nifti


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


def detect_source(src: Path) -> tuple[str, dict[str, Any]]:
    """The installed dataset source that claims `src` with the highest priority (see
    :meth:`DatasetSource.claim`), and the params that point it there."""
    from benchgen import registry

    best: tuple[int, str, dict[str, Any]] | None = None
    for name in registry.names("datasets"):
        try:
            claim = registry.load_class("datasets", name).claim(src)
        except BenchgenError:  # a broken plugin claims nothing; `benchgen list` shows it
            continue
        if claim is not None and (best is None or claim[0] > best[0]):
            best = (claim[0], name, claim[1])
    if best is None:
        raise DataError(f"{src}: no installed dataset source reads this", "pass a folder of NIfTI files, a BIDS "
                        "folder or a manifest CSV, or name the source with --source")
    return best[1], best[2]


def build_source(src: Path, kind: str = "auto", params: dict[str, Any] | None = None) -> tuple[str, DatasetSource]:
    """The dataset source for `src`: detected (``auto``) or named, with the params its claim gives."""
    from benchgen import registry

    if kind == "auto":
        kind, base = detect_source(src)
    else:
        claim = registry.load_class("datasets", kind).claim(src)
        base = claim[1] if claim else {}  # a source that claims nothing takes its params from --param
    plugin = registry.create("datasets", kind, {**base, **(params or {})}, where=f"source '{kind}' params")
    assert isinstance(plugin, DatasetSource)
    return kind, plugin


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
    return [registry.create("preprocessors", n, params.get(n), where=f"preprocessor '{n}' params")
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
        return inside(dst, rel.parent, f"{name}.nii.gz")
    return inside(dst, f"{item.subject_id}.nii.gz")


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name[: -len(".nii.gz")] + ".json")


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
    out: list[tuple[int, str | None, dict[str, Any]]] = []
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
        write_text(sidecar_path(path), json.dumps(meta, indent=1))
        out.append((i, None, rec))
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=str))


def preprocess_folder(src: str | Path, dst: str | Path, chain: str = "paper", jobs: int = 1,
                      strict: bool = False, first_volume: bool = False,
                      target_shape: tuple[int, int, int] = (84, 128, 84), source: str = "auto",
                      source_params: dict[str, Any] | None = None,
                      chain_params: dict[str, dict[str, Any]] | None = None,
                      progress: ProgressFn = no_progress, montage_max: int = 24) -> PreprocessReport:
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
        dst = dst.resolve()  # outputs are resolved under it (benchgen.safety.inside)
        probe = dst / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{dst}: output folder is not writable ({exc.strerror or exc})") from None
    kind, src_plugin = build_source(src, source, source_params)
    steps = build_chain(chain, chain_params)
    d, h, w = (int(s) for s in target_shape)  # a list from a script is fine too
    ctx = PrepContext(target_shape=(d, h, w), first_volume=first_volume)
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
    for i, reason, rec in parallel_map(_write_chunk, (src_plugin, steps, ctx, header), todo, jobs, 1, progress,
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
    if src_plugin.keeps_participants:  # e.g. BIDS: DST's participants.tsv carries the metadata
        write_participants(dst / "participants.tsv", [by_index[i] for i in usable])
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
    report.montage = montage([(label, arr[None]) for arr, label in zip(arrays, labels)], dst / "qc_montage.png",
                             n=1, per_row=4, autoscale=True,
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
    write_text(path, buf.getvalue())
    return path, outliers


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
    write_text(path, buf.getvalue())
    return path


