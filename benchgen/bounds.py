"""Bounded by construction: what a file or a suite declares is checked against what the file holds and what
the machine can hold *before* memory is spent on it.

* :func:`nifti_header` / :func:`read_nifti_image`: a NIfTI file's header declares a shape and a data type;
  the bytes they imply are checked against a voxel cap and against the file (uncompressed: its size; gzip:
  a streamed decompression that stops at the declared size), so a 100-byte header that claims gigabytes, or
  a gzip bomb, is one line naming the file instead of an allocation of what it claims.
* :func:`machine_memory` and :func:`check_suite_sizes`: a suite's sizes (samples, subjects, shape,
  bootstrap, jobs) against the machine, at ``validate``.
* :func:`memory_error_line`: a MemoryError that still happens names the stage it happened in.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchgen.errors import ConfigError, DataError

MAX_VOXELS_ENV = "BENCHGEN_MAX_VOXELS"
DEFAULT_MAX_VOXELS = 2**28  # 268M voxels (e.g. 640³), 1 GiB as float32: far above any MRI scan
MAX_BOOTSTRAP = 100_000  # replicates per cell; published evaluations use 200–1,000
FLOAT_BYTES = 4  # every volume is float32 once read
_CHUNK = 1 << 20
_TRAILING_SLACK = 1 << 20  # bytes a gzip stream may hold past its declared data before it counts as a bomb
_HEADER_BYTES = 540  # a NIfTI-2 header; NIfTI-1 is 348


def max_voxels() -> int:
    """The voxel cap of one input file: ``$BENCHGEN_MAX_VOXELS`` or 2^28."""
    raw = os.environ.get(MAX_VOXELS_ENV, "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_MAX_VOXELS
    except ValueError:
        raise ConfigError(f"{MAX_VOXELS_ENV}={raw!r} is not an integer", "unset it, or give a voxel count") from None


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.3g} GiB"


# ------------------------------------------------------------------------------------------- NIfTI
@dataclass(frozen=True)
class NiftiHeader:
    """What a NIfTI header declares: the image class, shape, data type and where the voxels start."""

    klass: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int
    gzipped: bool

    @property
    def voxels(self) -> int:
        return math.prod(self.shape)

    @property
    def declared_bytes(self) -> int:
        """Bytes the file must hold: the header and extensions, then every voxel."""
        return self.offset + self.voxels * self.dtype.itemsize

    def describe(self) -> str:
        return f"shape {'×'.join(map(str, self.shape))} {self.dtype.name}"


def _unreadable(path: Path, reason: str) -> DataError:
    return DataError(f"{path}: not a readable NIfTI file ({reason})")


def _open(path: Path) -> tuple[io.BufferedIOBase, bool]:
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise DataError(f"{path}: unreadable ({exc.strerror or exc})") from None
    gzipped = f.read(2) == b"\x1f\x8b"
    f.seek(0)
    return (gzip.GzipFile(fileobj=f, mode="rb") if gzipped else f), gzipped


def _read(stream: io.BufferedIOBase, n: int, path: Path) -> bytes:
    try:
        return stream.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, f"corrupt or truncated gzip: {exc}") from None


def nifti_header(path: str | Path) -> NiftiHeader:
    """The header of a ``.nii``/``.nii.gz`` file (at most 540 bytes read), checked against the voxel cap;
    a DataError naming the file when it is not a NIfTI header or declares more voxels than the cap."""
    import nibabel as nib

    path = Path(path)
    stream, gzipped = _open(path)
    with stream:
        head = _read(stream, _HEADER_BYTES, path)
    if len(head) < 348:
        raise _unreadable(path, f"{len(head)} bytes, shorter than a NIfTI header")
    sizeof_hdr = int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")
    klass = nib.Nifti2Image if 540 in sizeof_hdr else nib.Nifti1Image
    size = 540 if klass is nib.Nifti2Image else 348
    try:
        with nib.imageglobals.LoggingOutputSuppressor():  # nibabel logs header complaints to stderr
            hdr = klass.header_class(head[:size], check=True)
            shape = tuple(int(s) for s in hdr.get_data_shape())
            dtype = np.dtype(hdr.get_data_dtype())
            offset = int(hdr.get_data_offset())
    except Exception as exc:  # nibabel raises many types for bad headers; all mean "not a NIfTI"
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise _unreadable(path, reason) from None
    header = NiftiHeader(klass, shape, dtype, offset, gzipped)
    cap = max_voxels()
    if header.voxels > cap:
        raise DataError(f"{path}: its header declares {header.describe()} ({header.voxels:,} voxels), more than "
                        f"the {cap:,} voxels one input file may hold", f"set {MAX_VOXELS_ENV} to raise the cap if "
                        "the scan is real")
    return header


def read_nifti_bytes(path: str | Path, header: NiftiHeader | None = None) -> tuple[NiftiHeader, bytes]:
    """The file's header and its bytes up to the last declared voxel (decompressed), read only after the
    declared size passed the cap and only as far as it goes: a file holding less than it declares is a
    DataError naming both sizes; a gzip stream is read to its end in fixed chunks (its CRC is checked) and one
    holding much more than it declares is refused too."""
    path = Path(path)
    header = header or nifti_header(path)
    want = header.declared_bytes
    if not header.gzipped:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataError(f"{path}: unreadable ({exc.strerror or exc})") from None
        if size < want:
            raise DataError(f"{path}: its header declares {header.describe()} ({want:,} bytes with the header), "
                            f"but the file holds {size:,} bytes", "the file is truncated or its header is wrong")
    stream, _ = _open(path)
    with stream:
        buf = bytearray()
        while len(buf) < want:
            chunk = _read(stream, min(_CHUNK, want - len(buf)), path)
            if not chunk:
                raise DataError(f"{path}: its header declares {header.describe()} ({want:,} bytes with the "
                                f"header), but the file {'decompresses to' if header.gzipped else 'holds'} "
                                f"{len(buf):,} bytes", "the file is truncated or its header is wrong")
            buf += chunk
        if header.gzipped:  # read on to the end: the CRC is checked there; a long tail is a bomb, not a scan
            extra = 0
            while chunk := _read(stream, _CHUNK, path):
                extra += len(chunk)
                if extra > _TRAILING_SLACK:
                    raise DataError(f"{path}: decompresses to more than the {want:,} bytes its header declares "
                                    f"({header.describe()})", "the file is damaged or not a scan")
    return header, bytes(buf)


def read_nifti_image(path: str | Path, header: NiftiHeader | None = None) -> Any:
    """The nibabel image of a ``.nii``/``.nii.gz`` file, read with bounded memory (:func:`read_nifti_bytes`);
    every problem is a one-line DataError naming the file."""
    import nibabel as nib

    header, raw = read_nifti_bytes(path, header)
    try:
        with nib.imageglobals.LoggingOutputSuppressor():
            return header.klass.from_bytes(raw)
    except Exception as exc:  # nibabel raises many types for bad headers; all mean "not a NIfTI"
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise _unreadable(Path(path), reason) from None


# ------------------------------------------------------------------------------------------ memory
def machine_memory() -> int | None:
    """Physical memory of this machine in bytes (``MemTotal`` of /proc/meminfo, else sysconf), or None when
    neither says."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def memory_error_line(exc: BaseException, command: str) -> tuple[str, str]:
    """A MemoryError (or torch's CPU allocator error) as one line: the stage (the innermost benchgen or plugin
    function it happened in) and the sizes the allocator named, plus a hint."""
    stage, sizes = command, ""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        name = Path(frame.f_code.co_filename)
        if any(part.startswith("benchgen") for part in name.parts[-3:-1]):
            stage = f"{name.parent.name}.{name.stem}.{frame.f_code.co_name}"
        suite: Any = frame.f_locals.get("suite")
        if hasattr(suite, "n_samples") and hasattr(suite, "shape"):  # the sizes the suite asked for
            subjects = declared_subjects(suite.source.params)
            sizes = (f"n_samples {suite.n_samples}, shape {'×'.join(map(str, suite.shape))}"
                     + (f", {subjects[0]} subjects" if subjects else "") + "; ")
    said = " ".join(str(exc).split())[:200]
    total = machine_memory()
    on = f"; this machine has {gib(total)}" if total else ""
    return (f"out of memory in `benchgen {command}` at {stage} ({sizes}{said or 'the allocator named no size'}{on})",
            "lower evaluation.n_samples, the number of subjects or dataset.shape, or run on a machine with more "
            "memory; `benchgen validate` checks these sizes")


def is_out_of_memory(exc: BaseException) -> bool:
    """A MemoryError, or torch's CPU allocator failure (a RuntimeError that names no type of its own)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


# ------------------------------------------------------------------------------------------- suites
def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def declared_subjects(params: Any) -> tuple[int, str] | None:
    """How many scans a dataset source's params declare (a generated cohort's ``n_subjects``, or its
    ``conditions`` counts) and the key that says so; None for sources that list files."""
    conditions = getattr(params, "conditions", None)
    if isinstance(conditions, dict) and conditions:
        return sum(int(v) for v in conditions.values()), "dataset.params.conditions"
    n = getattr(params, "n_subjects", None)
    return (int(n), "dataset.params.n_subjects") if isinstance(n, int) else None


def check_suite(suite: Any) -> Any:
    """The suite's sizes against this machine, at load (so `validate`, `run` and `train` refuse them before
    any work), and the checks that need the whole suite; the suite itself, with ``jobs`` capped at the CPU
    count (a warning says so).

    Held whole in memory, each must fit the machine: one volume of ``dataset.shape``; the synthetic set of a
    seed (``n_samples`` volumes: drawn, checked and scored in memory); the preprocessed cohort while it is
    built (a declared subject count; once cached it is read from disk in batches, see
    :class:`benchgen.data.mapped.MappedCohort`, so the training and test splits are not counted again)."""
    import dataclasses

    from benchgen import notices

    for name, value in suite.split.items():
        if not math.isfinite(value):
            raise ConfigError(f"dataset.split.{name}: {value} is not a fraction", "give numbers in [0, 1) that sum "
                              "to 1, e.g. { train = 0.8, val = 0.1, test = 0.1 }")
    _check_labels(list(suite.metrics))
    run_dir = (suite.document.get("executor") or {}).get("run_dir")
    if isinstance(run_dir, str) and run_dir:  # where a cluster run writes: inside BENCHGEN_HOME
        from benchgen.paths import suite_run_dir

        suite_run_dir(run_dir)
    voxels = math.prod(suite.shape)
    shape = "×".join(map(str, suite.shape))
    if voxels > max_voxels():
        raise ConfigError(f"dataset.shape {list(suite.shape)}: {voxels:,} voxels per volume, more than the "
                          f"{max_voxels():,} one volume may hold ({gib(voxels * FLOAT_BYTES)} as float32)",
                          f"choose a smaller shape (set {MAX_VOXELS_ENV} to raise the cap)")
    if suite.bootstrap > MAX_BOOTSTRAP:
        raise ConfigError(f"evaluation.bootstrap: {suite.bootstrap:,} replicates, more than {MAX_BOOTSTRAP:,}",
                          "200–1,000 replicates give stable 95% intervals")
    memory = machine_memory()
    per_volume = voxels * FLOAT_BYTES
    held = [(suite.n_samples, "evaluation.n_samples", "synthetic volumes per seed")]
    subjects = declared_subjects(suite.source.params)
    if subjects is not None:
        held.append((subjects[0], subjects[1], "scans in the cohort while it is preprocessed"))
    for n, key, what in held:
        if memory is not None and n * per_volume > memory:
            raise ConfigError(f"{key}: {n:,} {what} of {shape} hold {gib(n * per_volume)} in memory; this "
                              f"machine has {gib(memory)}", "lower it, or dataset.shape")
    cpus = available_cpus()
    if suite.jobs > cpus:
        notices.warn(f"dataset.jobs = {suite.jobs} is more than the {cpus} CPUs available: using {cpus}")
        suite = dataclasses.replace(suite, jobs=cpus)
    return suite


def _check_labels(labels: list[str]) -> None:
    """A metric with several numbers stores them as ``label.sub`` columns: a label inside another metric's
    namespace (``prdc.recall`` beside ``prdc``) would fill, or hide, one of its columns."""
    for label in labels:
        for other in labels:
            if other != label and label.startswith(other + "."):
                raise ConfigError(f"[evaluation.metrics.{label}]: the label names a column of metric '{other}' "
                                  f"({other}.*), where it would replace or hide {other}'s own numbers",
                                  "choose a label without the other metric's name and a dot, e.g. "
                                  f"{label.replace('.', '-')}")


# -------------------------------------------------------------------------------------- checkpoints
def check_geometry(meta: dict[str, Any], file: str | Path) -> None:
    """A checkpoint description's ``shape`` (three sides ≥ 1, at most the voxel cap) and ``affine`` (4×4,
    finite): what sampling allocates and writes into every NIfTI header. A DataError naming the file."""
    shape = meta.get("shape")
    if not (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)):
        raise DataError(f"{file}: shape {shape!r} is not three positive integers",
                        "restore the file, or train again")
    if math.prod(shape) > max_voxels():
        raise DataError(f"{file}: shape {shape} declares {math.prod(shape):,} voxels per volume, more than the "
                        f"{max_voxels():,} one volume may hold", "restore the file, or train again")
    try:
        affine = np.asarray(meta.get("affine"), dtype=np.float64)
    except (TypeError, ValueError):
        affine = np.zeros(0)
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        raise DataError(f"{file}: affine is not a finite 4×4 matrix", "restore the file, or train again")
