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
    return (gzip.GzipFile(fileobj=f, mode="rb") if gzipped else f), gzipped  # type: ignore[return-value]


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
    stage = command
    for frame in traceback.extract_tb(exc.__traceback__):
        name = Path(frame.filename)
        if any(part.startswith(("benchgen", "benchgen_")) for part in name.parts[-3:-1]):
            stage = f"{name.parent.name}.{name.stem}.{frame.name}"
    said = " ".join(str(exc).split())[:200]
    total = machine_memory()
    on = f"; this machine has {gib(total)}" if total else ""
    return (f"out of memory in `benchgen {command}` at {stage} ({said or 'the allocator named no size'}{on})",
            "lower evaluation.n_samples, the number of subjects or dataset.shape, or run on a machine with more "
            "memory; `benchgen validate` checks these sizes")


def is_out_of_memory(exc: BaseException) -> bool:
    """A MemoryError, or torch's CPU allocator failure (a RuntimeError that names no type of its own)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))
