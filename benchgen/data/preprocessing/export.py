"""Any dataset source written out as NIfTI files (BIDS or flat) with participants.tsv, for
``benchgen data export``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from benchgen.atomic import write_text
from benchgen.data import qc as qclib
from benchgen.data.preprocessing.driver import CHUNK, Failure, one_line, parallel_map, strip_where
from benchgen.errors import ConfigError
from benchgen.interfaces import DataItem, DatasetSource
from benchgen.progress import ProgressFn, no_progress
from benchgen.provenance import tool_versions
from benchgen.safety import inside, subject_problem
from benchgen.volumes import write_nifti


# ------------------------------------------------------------------------------------------ export
def write_participants(path: Path, items: Sequence[DataItem]) -> Path:
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
    write_text(path, "\n".join(lines) + "\n")
    return path


@dataclass
class ExportReport:
    dst: Path
    written: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    participants: Path | None = None


def _export_chunk(source: DatasetSource, dst: str, layout: str,
                  chunk: list[tuple[int, DataItem]]) -> list[tuple[int, str | None, str | None]]:
    out: list[tuple[int, str | None, str | None]] = []
    for i, item in chunk:
        problem = subject_problem(item.subject_id)
        if problem:  # the id names the output file: refused before anything is written
            out.append((i, None, problem))
            continue
        try:
            volume = source.load(item)
            qclib.validate_input(volume, first_volume=True)
        except Exception as exc:  # one bad item is reported, the rest are written
            out.append((i, None, strip_where(one_line(exc), item)))
            continue
        path = export_path(Path(dst), item.subject_id, layout)
        write_nifti(path, volume.array, volume.affine)
        out.append((i, str(path), None))
    return out


def export_path(dst: Path, subject_id: str, layout: str) -> Path:
    """Where a subject's scan goes: ``sub-<id>/anat/sub-<id>_T1w.nii.gz`` (bids) or flat, inside `dst`."""
    sid = subject_id if subject_id.startswith("sub-") else f"sub-{re.sub(r'[^A-Za-z0-9]', '', subject_id)}"
    if layout == "bids":
        return inside(dst, sid, "anat", f"{sid}_T1w.nii.gz")
    return inside(dst, f"{sid}_T1w.nii.gz")


def export_dataset(source: DatasetSource, dst: str | Path, layout: str = "bids", n: int | None = None,
                   jobs: int = 1, progress: ProgressFn = no_progress) -> ExportReport:
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
    tasks = list(enumerate(items))
    for i, path, reason in parallel_map(_export_chunk, (source, str(dst), layout), tasks, jobs, CHUNK, progress,
                                        "export"):
        if path is None:
            report.failures.append(Failure(items[i].subject_id, items[i].path, reason or "unknown error"))
        else:
            written[i] = Path(path)
    report.written = [written[i] for i in sorted(written)]
    renamed = [DataItem(written[i].name.split("_T1w")[0], items[i].key, items[i].metadata) for i in sorted(written)]
    report.participants = write_participants(dst / "participants.tsv", renamed)
    desc = {"Name": f"benchgen export of dataset source '{getattr(source, 'name', '?')}'", "BIDSVersion": "1.9.0",
            "DatasetType": "raw", "GeneratedBy": [{"Name": "benchgen", "Version": tool_versions()["benchgen"]}],
            "benchgen_source": source.config()}
    write_text(dst / "dataset_description.json", json.dumps(desc, indent=1, default=str))
    return report


def export_source(source: str, dst: str | Path, params: dict[str, Any] | None = None, n: int | None = None,
                  layout: str = "bids", jobs: int = 1, progress: ProgressFn = no_progress) -> ExportReport:
    """Export the dataset source plugin `source`: `n` subjects — generated as that many where the source
    has an ``n_subjects`` parameter (the phantom), else its first `n` items."""
    import dataclasses

    from benchgen import registry

    params = dict(params or {})
    take = None
    if n is not None:
        if n < 1:
            raise ConfigError(f"--n must be ≥ 1, got {n}")
        if "n_subjects" in {f.name for f in dataclasses.fields(registry.load_class("datasets", source).Params)}:
            params["n_subjects"] = n
        else:
            take = n
    plugin = registry.create("datasets", source, params, where=f"dataset '{source}' params")
    assert isinstance(plugin, DatasetSource)
    return export_dataset(plugin, dst, layout=layout, n=take, jobs=jobs, progress=progress)
