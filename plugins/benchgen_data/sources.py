"""File-based dataset sources: a folder (or glob) of NIfTI files, a BIDS dataset, a CSV manifest.

Listing (`items`) reads no voxels; each item's key is the file's sha256 (memoised by size and mtime,
see :mod:`benchgen_data.filehash`; ``hash = "stat"`` uses path+size+mtime instead). A missing or
unreadable file is still listed and fails at `load` with a one-line reason, so one bad row or file
excludes only itself.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import DataItem, DatasetSource
from benchgen.safety import glob_files
from benchgen.volumes import Volume
from benchgen_data.filehash import HashMemo
from benchgen_data.nifti import is_nifti_name, load_nifti, strip_nifti_suffix

HashMode = Literal["sha256", "stat"]
MISSING = ("", "n/a", "na", "nan", "none")


def parse_value(text: str | None) -> Any:
    """A table cell: None for n/a, int/float when numeric, else the string."""
    if text is None or text.strip().lower() in MISSING:
        return None
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of a CSV or TSV (by extension; .tsv -> tab), as strings."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    rows = [r for r in reader if any((v or "").strip() for v in r.values())]
    return list(reader.fieldnames or []), rows


def _load_file(item: DataItem) -> Volume:
    err = item.metadata.get("_error")
    if err:
        raise DataError(str(err))
    if item.key.startswith("missing:"):
        raise DataError(f"{item.path}: no such file")
    if item.key.startswith("unreadable:"):
        raise DataError(f"{item.path}: unreadable ({item.key.rsplit(':', 1)[-1]})")
    volume = load_nifti(item.path)  # type: ignore[arg-type]
    volume.subject_id = item.subject_id
    volume.metadata.update({k: v for k, v in item.metadata.items() if not k.startswith("_")})
    return volume


def _participants(path: Path | None, id_column: str | None = None) -> dict[str, dict[str, Any]]:
    """Rows of a participants table keyed by its id column (participant_id, subject or the first)."""
    if path is None or not path.is_file():
        return {}
    cols, rows = read_table(path)
    if not cols:
        return {}
    key = id_column or next((c for c in ("participant_id", "subject", "subject_id") if c in cols), cols[0])
    return {r[key].strip(): {c: parse_value(r.get(c)) for c in cols if c != key} for r in rows if r.get(key)}


# ------------------------------------------------------------------------------------ nifti-folder
@dataclass(frozen=True)
class NiftiFolderParams:
    path: str                          # a folder (searched with `pattern`) or a glob such as "data/*_T1w.nii.gz"
    pattern: str = "**/*.nii*"         # used when `path` is a folder
    subject_regex: str | None = None   # applied to the file name without .nii[.gz]; group 1 (or the match) is the id
    participants: str | None = None    # optional CSV/TSV with one row per subject: its columns become metadata
    hash: HashMode = "sha256"

    def __post_init__(self) -> None:
        if self.subject_regex is not None:
            try:
                re.compile(self.subject_regex)
            except re.error as exc:
                raise ValueError(f"subject_regex is not a valid regular expression ({exc})") from None


class NiftiFolderSource(DatasetSource):
    """Every NIfTI file in a folder or glob; the subject id is the file name without .nii[.gz]
    (or the `subject_regex` group). Hidden files (.*) are ignored."""

    version = "1"
    Params = NiftiFolderParams

    @classmethod
    def claim(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """Any folder or NIfTI file, at the lowest priority (the fallback of `benchgen preprocess`)."""
        return (0, {"path": str(path)}) if path.is_dir() or path.name.endswith((".nii", ".nii.gz")) else None

    def files(self) -> list[Path]:
        p = self.params
        root = Path(p.path).expanduser()
        if any(ch in p.path for ch in "*?["):
            found = glob_files(str(root))  # folder links are not followed: a link loop cannot hang the listing
        elif root.is_dir():
            found = list(root.glob(p.pattern))
        elif root.is_file():
            found = [root]
        else:
            raise DataError(f"{root}: no such folder", "set [dataset.params] path to a folder or glob of NIfTI files")
        return sorted(f for f in found if is_nifti_name(f.name) and not f.name.startswith(".")
                      and not any(part.startswith(".") for part in f.parts[-3:-1]))

    def subject_of(self, path: Path) -> str:
        stem = strip_nifti_suffix(path.name)
        if self.params.subject_regex:
            m = re.search(self.params.subject_regex, stem)
            if m:
                return m.group(1) if m.groups() else m.group(0)
        return stem

    def items(self) -> list[DataItem]:
        memo = HashMemo()
        meta = _participants(Path(self.params.participants).expanduser() if self.params.participants else None)
        out = []
        for f in self.files():
            sid = self.subject_of(f)
            out.append(DataItem(sid, memo.key(f, self.params.hash), dict(meta.get(sid, {})), path=str(f)))
        memo.save()
        return out

    def load(self, item: DataItem) -> Volume:
        return _load_file(item)


# --------------------------------------------------------------------------------------------- bids
@dataclass(frozen=True)
class BidsParams:
    root: str
    suffix: str = "T1w"                           # files sub-*/[ses-*/]anat/*_<suffix>.nii[.gz]
    sessions: Literal["first", "all"] = "first"   # first: one scan per subject (first session, first run)
    hash: HashMode = "sha256"


_ENTITY = re.compile(r"(?:^|_)(ses|run|acq)-([A-Za-z0-9]+)")


class BidsSource(DatasetSource):
    """A BIDS dataset: ``sub-*/[ses-*/]anat/*_T1w.nii[.gz]``; ids are ``sub-<label>``; the columns of
    ``participants.tsv`` become metadata (``n/a`` -> none, numbers parsed), plus ``session``/``run``."""

    version = "1"
    Params = BidsParams
    keeps_participants = True

    @classmethod
    def claim(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """A folder with ``sub-*/anat`` or ``sub-*/ses-*/anat`` folders."""
        if path.is_dir() and (any(p.is_dir() for p in path.glob("sub-*/anat"))
                              or any(p.is_dir() for p in path.glob("sub-*/ses-*/anat"))):
            return 10, {"root": str(path)}
        return None

    def scans(self) -> list[tuple[str, dict[str, Any], Path]]:
        root = Path(self.params.root).expanduser()
        if not root.is_dir():
            raise DataError(f"{root}: no such BIDS folder", "set [dataset.params] root")
        found = []
        suffix = f"_{self.params.suffix}"
        for sub in sorted(p for p in root.glob("sub-*") if p.is_dir()):
            files = [f for pattern in ("anat/*", "ses-*/anat/*") for f in sub.glob(pattern)
                     if is_nifti_name(f.name) and strip_nifti_suffix(f.name).endswith(suffix)]
            scans = []
            for f in files:
                ents = dict(_ENTITY.findall(strip_nifti_suffix(f.name)))
                ses = ents.get("ses") or (f.parent.parent.name[4:] if f.parent.parent.name.startswith("ses-") else None)
                scans.append(((ses or "", _run_number(ents.get("run")), f.name),
                              {"session": ses, "run": parse_value(ents.get("run"))}, f))
            scans.sort(key=lambda s: s[0])
            if self.params.sessions == "first":
                scans = scans[:1]
            found += [(sub.name, meta, f) for _, meta, f in scans]
        return found

    def items(self) -> list[DataItem]:
        root = Path(self.params.root).expanduser()
        participants = _participants(root / "participants.tsv", "participant_id")
        memo = HashMemo()
        out = []
        for sid, ents, f in self.scans():
            meta = dict(participants.get(sid, {}))
            meta.update({k: v for k, v in ents.items() if v is not None})
            out.append(DataItem(sid, memo.key(f, self.params.hash), meta, path=str(f)))
        memo.save()
        return out

    def load(self, item: DataItem) -> Volume:
        return _load_file(item)


def _run_number(run: str | None) -> int:
    try:
        return int(run) if run is not None else 0
    except ValueError:
        return 0


# ----------------------------------------------------------------------------------------- manifest
@dataclass(frozen=True)
class ManifestParams:
    path: str                         # CSV (or .tsv) with one row per scan
    path_column: str = "path"         # relative paths are relative to the manifest's folder
    subject_column: str = "subject"
    split_column: str = "split"       # optional; when present its value is kept as metadata "split"
    hash: HashMode = "sha256"


class ManifestSource(DatasetSource):
    """A CSV of scans: path, subject, optional split and any label columns (kept as metadata)."""

    version = "1"
    Params = ManifestParams

    @classmethod
    def claim(cls, path: Path) -> tuple[int, dict[str, Any]] | None:
        """A CSV or TSV file."""
        return (20, {"path": str(path)}) if path.is_file() and path.suffix.lower() in (".csv", ".tsv") else None

    def items(self) -> list[DataItem]:
        p = self.params
        table = Path(p.path).expanduser()
        if not table.is_file():
            raise DataError(f"{table}: no such manifest file", "set [dataset.params] path to a CSV file")
        cols, rows = read_table(table)
        for needed in (p.path_column, p.subject_column):
            if needed not in cols:
                raise ConfigError(f"{table}: no column '{needed}' (columns: {', '.join(cols) or 'none'})",
                                  "set path_column / subject_column")
        memo = HashMemo()
        out = []
        for n, row in enumerate(rows, start=2):  # line numbers as a spreadsheet shows them
            raw = (row.get(p.path_column) or "").strip()
            sid = (row.get(p.subject_column) or "").strip()
            meta = {c: parse_value(row.get(c)) for c in cols if c not in (p.path_column, p.subject_column)}
            if not raw or not sid:
                what = "path" if not raw else "subject"
                meta["_error"] = f"{table} line {n}: empty {what}"
                out.append(DataItem(sid or f"line-{n}", f"invalid:{table}:{n}", meta, path=raw or None))
                continue
            f = Path(raw).expanduser()
            if not f.is_absolute():
                f = table.parent / f
            out.append(DataItem(sid, memo.key(f, p.hash), meta, path=str(f)))
        memo.save()
        return out

    def load(self, item: DataItem) -> Volume:
        return _load_file(item)
