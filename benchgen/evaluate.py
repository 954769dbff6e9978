"""Score any two sets of NIfTI volumes with metric plugins: the library behind ``benchgen evaluate``.

The most common need: a model trained elsewhere wrote its samples to a folder; score them against real
scans. Volumes are scored as stored (metrics expect intensities in [0, 1]) unless ``normalize=True``
rescales each volume by its own min and max.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from benchgen import registry
from benchgen.errors import ConfigError, DataError
from benchgen.hashing import file_sha256, fingerprint
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.params import params_to_dict, parse_overrides
from benchgen.progress import ProgressFn, no_progress
from benchgen.safety import glob_files
from benchgen.scoring import finite_or_none, score_metric
from benchgen.volumes import Cohort, read_nifti

DEFAULT_METRICS = ("mmd", "fid", "ms-ssim", "prdc")
NIFTI_SUFFIXES = (".nii", ".nii.gz")


def collect_files(spec: str | Path) -> list[Path]:
    """NIfTI files of a folder, a glob pattern or a single file, sorted; DataError when there are none."""
    spec = str(spec)
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(NIFTI_SUFFIXES))
    elif p.is_file():
        files = [p]
    else:
        files = [f for f in glob_files(str(p)) if f.name.endswith(NIFTI_SUFFIXES)]
    if not files:
        raise DataError(f"{spec}: no NIfTI files (.nii, .nii.gz) found")
    return files


def load_set(spec: str | Path, role: str, normalize: bool = False) -> tuple[Cohort, list[Path]]:
    """Read every volume of a set into a Cohort; shapes must agree (DataError naming the odd file)."""
    files = collect_files(spec)
    vols = [read_nifti(f) for f in files]
    first = vols[0].array.shape
    for f, v in zip(files, vols):
        if v.array.shape != first:
            raise DataError(f"{f}: shape {'×'.join(map(str, v.array.shape))} differs from "
                            f"{'×'.join(map(str, first))} ({files[0].name}) in the {role} set")
        if normalize:
            lo, hi = float(v.array.min()), float(v.array.max())
            v.array = ((v.array - lo) / (hi - lo) if hi > lo else np.zeros_like(v.array)).astype(np.float32)
    data = torch.from_numpy(np.stack([v.array for v in vols]))[:, None]
    return Cohort(data, vols[0].affine, [v.subject_id for v in vols]), files


def set_fingerprint(files: Sequence[Path], normalize: bool) -> str:
    """Content fingerprint of a set of files (keys the real-set feature cache)."""
    return fingerprint({"files": [file_sha256(f) for f in files], "normalize": normalize})


def parse_param_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--param METRIC.KEY=VALUE`` -> {metric: {key: value}} (see :func:`benchgen.params.parse_overrides`)."""
    return parse_overrides(items, "METRIC.KEY=VALUE, e.g. ms-ssim.kernel_size=3")


def result_entry(metric: Metric, res: MetricResult) -> dict[str, Any]:
    return {"value": finite_or_none(res.value),
            "ci": [finite_or_none(res.ci[0]), finite_or_none(res.ci[1])] if res.ci else None,
            "higher_is_better": bool(res.higher_is_better), "reference": finite_or_none(res.reference),
            "status": res.status, "message": res.message, "params": params_to_dict(metric.params),
            "details": res.details}


def evaluate(real: str | Path, synthetic: str | Path, metrics: Sequence[str] = (),
             train: str | Path | None = None, params: dict[str, dict[str, Any]] | None = None,
             normalize: bool = False, seed: int = 0, device: str = "cpu", cache_dir: Path | None = None,
             progress: ProgressFn = no_progress) -> dict[str, Any]:
    """Score `synthetic` against `real` with each metric; one metric's failure is its own error entry.

    Returns ``{"n_real", "n_synthetic", "metrics": {name: {value, ci, higher_is_better, reference,
    status, message, params, details}}}``; a metric returning sub-results gives ``name.key`` entries.
    """
    from benchgen import paths

    params = dict(params or {})
    names = list(metrics) or list(DEFAULT_METRICS) + (["memorization"] if train else [])
    unknown = set(params) - set(names)
    if unknown:
        raise ConfigError(f"--param given for {', '.join(sorted(unknown))}, which is not among the metrics "
                          f"({', '.join(names)})")
    plugins = {n: registry.create("metrics", n, params.get(n), where=f"--param {n}") for n in names}
    real_set, real_files = load_set(real, "real", normalize)
    syn_set, _ = load_set(synthetic, "synthetic", normalize)
    train_set = load_set(train, "train", normalize)[0] if train else None
    ctx = MetricContext(seed=seed, device=device,
                        cache_dir=cache_dir if cache_dir is not None else paths.cache_dir("features"),
                        real_fingerprint=set_fingerprint(real_files, normalize),
                        progress=progress)
    results: dict[str, Any] = {}
    for name, metric in plugins.items():
        assert isinstance(metric, Metric)
        for column, res in score_metric(metric, name, syn_set, real_set, train_set, ctx):
            if res.status == "error" and not (res.message or "").startswith(name):
                res.message = f"{name}: {res.message}"
            results[column] = result_entry(metric, res)
    return {"n_real": len(real_set), "n_synthetic": len(syn_set), "metrics": results}
