"""Drawing samples: the checks every generator's output passes, the sample cache, and sampling from a
stored checkpoint folder independently of the suite that trained it."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchgen import paths
from benchgen.atomic import atomic_path
from benchgen.errors import ConfigError, DataError
from benchgen.hashing import fingerprint
from benchgen.interfaces import Generator
from benchgen.progress import ProgressFn, no_progress
from benchgen.volumes import Cohort, write_cohort


def check_samples(samples: Any, n: int, shape: tuple[int, int, int], label: str) -> torch.Tensor:
    """A generator's output must be n×1×D×H×W, finite, in [0, 1]: anything else is its error.
    Tolerated and fixed up: numpy arrays, other float dtypes, overshoot of up to 1e-3 (clamped)."""
    if not isinstance(samples, torch.Tensor):
        samples = torch.as_tensor(np.asarray(samples))
    want = (n, 1, *shape)
    if tuple(samples.shape) != want:
        raise DataError(f"generator '{label}' returned shape {tuple(samples.shape)}, expected {want}")
    samples = samples.detach().to("cpu", torch.float32)
    if not torch.isfinite(samples).all():
        raise DataError(f"generator '{label}' returned NaN or Inf voxels")
    if samples.min() < -1e-3 or samples.max() > 1 + 1e-3:
        raise DataError(f"generator '{label}' returned values in [{samples.min():.3g}, {samples.max():.3g}], "
                        "expected [0, 1]")
    return samples.clamp_(0, 1)


@dataclass(frozen=True)
class DrawTime:
    """How long drawing a sample set took (the generator's ``sample`` call, checks excluded), and where.
    Kept in the cached file's metadata, so a cache hit reports the time measured when the samples were drawn."""

    seconds: float
    volumes: int
    device: str = "cpu"
    threads: int = 1  # torch's CPU threads at the draw (a plugin's own num_threads setting may differ)

    def __add__(self, other: DrawTime) -> DrawTime:
        """Two parts of one sample set (a per-condition generator's): the total time over the total volumes."""
        devices = self.device if self.device == other.device else f"{self.device}, {other.device}"
        return DrawTime(self.seconds + other.seconds, self.volumes + other.volumes, devices,
                        max(self.threads, other.threads))

    def info(self) -> dict[str, Any]:
        """The fields added to a record's ``sampler`` (never to a cell key or config hash)."""
        return {"seconds_per_volume": self.seconds / max(self.volumes, 1), "timed_volumes": self.volumes,
                "timed_on": self.device, "timed_threads": self.threads}

    def metadata(self) -> dict[str, str]:
        return {"draw_time": json.dumps({"seconds": self.seconds, "volumes": self.volumes, "device": self.device,
                                         "threads": self.threads})}

    @classmethod
    def from_metadata(cls, meta: dict[str, str] | None) -> DrawTime | None:
        """None for a file cached before draws were timed (or with unreadable metadata)."""
        try:
            raw = json.loads((meta or {})["draw_time"])
            return cls(float(raw["seconds"]), int(raw["volumes"]), str(raw["device"]), int(raw["threads"]))
        except (KeyError, TypeError, ValueError):
            return None


def _timed_draw(gen: Generator, n: int, seed: int, asked: list[dict[str, Any]] | None,
                progress: ProgressFn) -> tuple[Any, DrawTime]:
    t0 = time.perf_counter()
    drawn = gen.sample(n, seed, progress=progress) if asked is None else gen.sample_conditional(asked, seed, progress)
    # GPU kernels run asynchronously: wait for them, or the time is the launch time
    if isinstance(drawn, torch.Tensor) and drawn.is_cuda:
        torch.cuda.synchronize(drawn.device)
    seconds = time.perf_counter() - t0
    return drawn, DrawTime(seconds, n, gen.device or "cpu", torch.get_num_threads())


def drawn_sources(gen: Generator, n: int) -> list[str] | None:
    """The training subject each of the last `n` volumes was made from, for a generator whose volumes are derived
    copies of training scans and that says so (``records_sources``: augment, mixup, label-swap); else None."""
    if not getattr(gen, "records_sources", False):
        return None
    sources = [str(s) for s in gen.last_subject_ids()]  # type: ignore[attr-defined]
    return sources if len(sources) == n else None


def sample_cached(gen: Generator, ckpt: Path, n: int, seed: int, shape: tuple[int, int, int], label: str,
                  affine: np.ndarray, progress: ProgressFn = no_progress,
                  table: list[dict[str, Any]] | None = None) -> tuple[Cohort, DrawTime | None]:
    """`n` checked samples of a fitted generator for `seed`, from the sample cache when there, and the time
    their draw took (None for a cache entry written before draws were timed). With a condition `table` (n rows)
    and a generator that declares conditions, the samples are drawn to it (``sample_conditional``); either way
    the rows become the samples' metadata.

    The key is the checkpoint (named by config, data and fit seed), the generator's ``config()`` and the
    conditions drawn to — never ``sampler_info()``, which may describe the object's state (a scan pool adds
    `with_replacement` after its first ``sample``), so a resumed run finds the samples a first run cached."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    keys = gen.conditions() if table is not None else ()
    asked = [{k: row[k] for k in keys if k in row} for row in table] if keys and table is not None else None
    drawn_to = f"-c{fingerprint(asked, 12)}" if asked is not None else ""
    name = f"{ckpt.name}-{fingerprint(gen.config())}{drawn_to}-seed{seed}-n{n}.safetensors"
    path = paths.cache_dir("samples") / name
    data, timing = None, None
    sources: list[str] | None = None
    if path.is_file():
        try:
            data = check_samples(load_file(str(path))["data"], n, shape, label)
            with safe_open(str(path), "pt") as f:
                timing = DrawTime.from_metadata(f.metadata())
                sources = json.loads((f.metadata() or {}).get("source_subjects", "null"))
        except Exception:  # a damaged entry (truncated file, SafetensorError, wrong shape): drawn again
            data = None
            with contextlib.suppress(OSError):
                path.unlink()
    if data is None:
        drawn, timing = _timed_draw(gen, n, seed, asked, progress)
        data = check_samples(drawn, n, shape, label)
        sources = drawn_sources(gen, n)
        extra = {"source_subjects": json.dumps(sources)} if sources else {}
        with atomic_path(path, ".safetensors") as tmp:
            save_file({"data": data.contiguous()}, tmp, metadata={**timing.metadata(), **extra})
    metadata = [dict(row) for row in table] if table is not None else []
    if sources and len(sources) == n:  # derived copies: each volume names the training scan it came from
        metadata = [{**(metadata[i] if metadata else {}), "source_subject": sources[i]} for i in range(n)]
    return Cohort(data, affine, sample_ids(label, seed, n), metadata), timing


def sample_ids(label: str, seed: int, n: int) -> list[str]:
    """The one naming scheme of synthetic volumes (and their NIfTI files): ``<label>-seed<seed>-<i>``."""
    return [f"{label}-seed{seed}-{i:03d}" for i in range(n)]


def sample_checkpoint(folder: str | Path, n: int, out_dir: str | Path, seed: int = 0,
                      overrides: dict[str, Any] | None = None, progress: ProgressFn = no_progress) -> list[Path]:
    """Write `n` volumes of the checkpoint in `folder` as NIfTI files into `out_dir`."""
    from benchgen.fit.saving import load_checkpoint

    if n < 1:
        raise ConfigError(f"-n: must be at least 1, got {n}")
    gen, meta = load_checkpoint(folder, overrides)
    data = check_samples(gen.sample(n, seed, progress=progress), n, tuple(meta["shape"]),
                         meta.get("label", meta["plugin"]))
    cohort = Cohort(data, np.asarray(meta["affine"]), sample_ids(meta.get("label", meta["plugin"]), seed, n))
    return write_cohort(cohort, out_dir)
