"""Score any two sets of NIfTI volumes with metric plugins: the library behind ``benchgen evaluate``.

The most common need: a model trained elsewhere wrote its samples to a folder; score them against real
scans. Metrics expect intensities in [0, 1]: volumes are scored as stored when they are (within
``RANGE_TOL``), a set with a volume outside is refused naming the file; ``normalize=True`` maps every volume
with the ``scale-01`` preprocessing step (the same mapping as ``benchgen preprocess`` and suites).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, Union

import numpy as np
import torch

from benchgen import registry
from benchgen.bounds import nifti_header
from benchgen.data.mapped import MappedCohort, write_volumes
from benchgen.errors import ConfigError, DataError
from benchgen.functional.sources import iter_batches
from benchgen.hashing import file_sha256, fingerprint
from benchgen.interfaces import Metric, MetricContext, MetricResult, PrepContext, Preprocessor
from benchgen.params import params_to_dict, parse_overrides
from benchgen.progress import ProgressFn, no_progress
from benchgen.safety import MISSING_FILE, file_problem, glob_files
from benchgen.score.score import finite_or_none, score_metric
from benchgen.suite import protocols
from benchgen.volumes import Cohort, Volume, read_nifti

DEFAULT_METRICS = ("mmd", "frd", "ms-ssim", "prdc")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
RANGE_TOL = 1e-4  # intensities within [-tol, 1 + tol] count as [0, 1]
NORMALIZE_STEP = "scale-01"  # the preprocessing step --normalize applies (its default params)
CHECK_BATCH = 16  # volumes per read when checking or hashing a given set


def collect_files(spec: str | Path) -> list[Path]:
    """NIfTI files of a folder, a glob pattern or a single file, sorted; DataError when there are none."""
    spec = str(spec)
    p = Path(spec).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if not f.is_dir() and f.name.endswith(NIFTI_SUFFIXES))
    elif p.is_file():
        files = [p]
    else:
        files = [f for f in glob_files(str(p)) if f.name.endswith(NIFTI_SUFFIXES)]
    if not files:
        raise DataError(f"{spec}: no NIfTI files (.nii, .nii.gz) found")
    for f in files:  # the listing policy of `benchgen preprocess`: a FIFO, a device or a dangling link is named
        problem = file_problem(f)
        if problem == MISSING_FILE:
            raise DataError(f"{f}: {MISSING_FILE}", "a link whose target is gone: remove it or restore the target")
        if problem is not None:
            raise DataError(f"{f}: unreadable ({problem})", "remove it from the set, or pass the files by a glob "
                            "that leaves it out")
    return files


def _scale_unit() -> Callable[[Volume], Volume]:
    """The ``scale-01`` preprocessing step (plugins/benchgen_data), through the registry like a suite's."""
    step = registry.create("preprocessors", NORMALIZE_STEP, {}, where="--normalize")
    assert isinstance(step, Preprocessor)
    return lambda v: step(v, PrepContext(target_shape=tuple(v.array.shape)))


def checked_volumes(files: Sequence[Path], role: str, normalize: bool = False) -> Iterator[Volume]:
    """The volumes of a set's files, read one at a time; shapes must agree and intensities be in [0, 1]
    (DataError naming the first odd file). ``normalize``: map each volume with the ``scale-01`` step."""
    scale = _scale_unit() if normalize else None
    first: tuple[int, ...] | None = None
    for f in files:
        if first is not None:  # the set's shape is known: a header that declares another is refused unread
            declared = nifti_header(f).shape
            declared = declared[:3] if len(declared) == 4 and declared[3] == 1 else declared
            if declared != first:
                raise DataError(f"{f}: shape {'×'.join(map(str, declared))} differs from "
                                f"{'×'.join(map(str, first))} ({files[0].name}) in the {role} set")
        v = read_nifti(f)
        first = first or v.array.shape
        if v.array.shape != first:
            raise DataError(f"{f}: shape {'×'.join(map(str, v.array.shape))} differs from "
                            f"{'×'.join(map(str, first))} ({files[0].name}) in the {role} set")
        if scale is not None:
            v = scale(v)
        check_range(v.array, str(f), role)
        yield v


def load_set(spec: str | Path, role: str, normalize: bool = False) -> tuple[Cohort, list[Path]]:
    """Read every volume of a set into an in-memory Cohort (see :func:`checked_volumes`)."""
    files = collect_files(spec)
    vols = list(checked_volumes(files, role, normalize))
    data = torch.from_numpy(np.stack([v.array for v in vols]))[:, None]
    return Cohort(data, vols[0].affine, [v.subject_id for v in vols]), files


def map_set(spec: str | Path, role: str, folder: Path, normalize: bool = False) -> tuple[MappedCohort, list[Path]]:
    """A set's files converted once, one volume at a time, into ``folder/ROLE.npy``: a cohort on disk that
    metrics read in batches, so memory does not grow with the number of volumes."""
    files = collect_files(spec)
    vols = checked_volumes(files, role, normalize)
    first = next(vols)  # its shape goes into the file's header
    ids = [first.subject_id]

    def arrays() -> Iterator[np.ndarray]:
        yield first.array
        for v in vols:
            ids.append(v.subject_id)
            yield v.array

    vf = write_volumes(folder / f"{role}.npy", arrays(), len(files), first.array.shape)
    return MappedCohort(vf, first.affine, ids), files


def check_range(array: np.ndarray | torch.Tensor, where: str, role: str) -> None:
    """DataError (one line: where, the range, the fix) when intensities leave [0, 1] by more than RANGE_TOL."""
    lo, hi = float(array.min()), float(array.max())
    if lo < -RANGE_TOL or hi > 1.0 + RANGE_TOL:
        raise DataError(f"{where}: intensities in [{lo:.6g}, {hi:.6g}], outside [0, 1] ({role} set); metrics "
                        "expect [0, 1]", "pass --normalize to map every volume with the scale-01 "
                        "preprocessing step, or run `benchgen preprocess` on the scans first")


def _checked_cohort(c: Cohort, role: str, normalize: bool) -> Cohort:
    """A given set through the same intensity rules as files: scale-01 per volume, then the range check
    (a set on disk is read in batches; ``normalize`` loads it)."""
    if normalize:
        scale = _scale_unit()
        arrays = [scale(Volume(v[0].numpy(), c.affine, c.subject_ids[start + k])).array
                  for start, batch in iter_batches(c, CHECK_BATCH) for k, v in enumerate(batch)]
        c = Cohort(torch.from_numpy(np.stack(arrays))[:, None], c.affine, list(c.subject_ids), c.metadata)
    for start, batch in iter_batches(c, CHECK_BATCH):
        for k, v in enumerate(batch):
            check_range(v, f"volume {start + k} ({c.subject_ids[start + k]}) of the {role} set", role)
    return c


SetLike = Union[str, Path, Cohort, torch.Tensor, np.ndarray]


def as_set(obj: SetLike, role: str, normalize: bool = False, folder: Path | None = None) -> tuple[Cohort, str]:
    """A set to score and its content fingerprint (keys the real-set feature cache): a folder, glob or file
    of NIfTI volumes, a :class:`Cohort`, or an ``N×D×H×W`` / ``N×1×D×H×W`` tensor or array in [0, 1].
    `folder`: files are converted into a cohort on disk there (:func:`map_set`) instead of loaded. A ``.npy``
    file of ``N×1×D×H×W`` float32 volumes (:func:`benchgen.data.mapped.write_volumes`) is read from disk as is."""
    if isinstance(obj, (str, Path)) and str(obj).endswith(".npy"):
        mapped = MappedCohort.open(Path(obj).expanduser(), role)
        return _checked_cohort(mapped, role, normalize), set_fingerprint([mapped.file.path], normalize)
    if isinstance(obj, (str, Path)):
        cohort, files = map_set(obj, role, folder, normalize) if folder is not None else \
            load_set(obj, role, normalize)
        return cohort, set_fingerprint(files, normalize)
    if not isinstance(obj, Cohort):
        data = torch.as_tensor(np.asarray(obj) if not isinstance(obj, torch.Tensor) else obj).float()
        if data.ndim == 4:
            data = data[:, None]
        if data.ndim != 5 or data.shape[1] != 1 or len(data) < 1:
            raise DataError(f"the {role} set: expected N×D×H×W or N×1×D×H×W volumes, got shape {tuple(data.shape)}")
        obj = Cohort(data.contiguous(), np.eye(4), [f"{role}-{i:04d}" for i in range(len(data))])
    obj = _checked_cohort(obj, role, normalize)
    digest = hashlib.sha256()
    for _, batch in iter_batches(obj, CHECK_BATCH):  # the bytes of the whole tensor, in order
        digest.update(batch.numpy().tobytes())
    shape = [len(obj), 1, *obj.shape]
    return obj, fingerprint({"tensor": digest.hexdigest(), "shape": shape, "normalize": _mapping(normalize)})


def set_fingerprint(files: Sequence[Path], normalize: bool) -> str:
    """Content fingerprint of a set of files and of the intensity mapping (keys the real-set feature cache)."""
    return fingerprint({"files": [file_sha256(f) for f in files], "normalize": _mapping(normalize)})


def _mapping(normalize: bool) -> dict[str, Any] | None:
    """The intensity mapping applied to a set (its step's config), for the set's fingerprint."""
    return registry.create("preprocessors", NORMALIZE_STEP, {}).config() if normalize else None


def parse_param_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--param METRIC.KEY=VALUE`` -> {metric: {key: value}} (see :func:`benchgen.params.parse_overrides`)."""
    return parse_overrides(items, "METRIC.KEY=VALUE, e.g. ms-ssim.kernel_size=3")


def result_entry(metric: Metric, res: MetricResult) -> dict[str, Any]:
    return {"value": finite_or_none(res.value),
            "ci": [finite_or_none(res.ci[0]), finite_or_none(res.ci[1])] if res.ci else None,
            "higher_is_better": bool(res.higher_is_better), "reference": finite_or_none(res.reference),
            "status": res.status, "message": res.message, "params": params_to_dict(metric.params),
            "details": res.details}


def metric_plugins(metrics: Sequence[str] = (), train: bool = False, params: dict[str, dict[str, Any]] | None = None,
                   protocol: str = "") -> dict[str, Metric]:
    """label -> the metric plugin :func:`evaluate` scores with; bad names or params are one ConfigError."""
    tables = _metric_tables(metrics, train, dict(params or {}), protocol)
    return {n: registry.create("metrics", t["plugin"], t["params"], where=f"--metric {n}")
            for n, t in tables.items()}


def evaluate(real: SetLike, synthetic: SetLike, metrics: Sequence[str] = (),
             train: SetLike | None = None, params: dict[str, dict[str, Any]] | None = None,
             normalize: bool = False, seed: int = 0, device: str = "cpu", cache_dir: Path | None = None,
             progress: ProgressFn = no_progress, protocol: str = "") -> dict[str, Any]:
    """Score `synthetic` against `real` with each metric; one metric's failure is its own error entry.
    `protocol`: a :mod:`benchgen.suite.protocols` preset supplies the metrics (then `metrics` must be empty and
    `params` may only set weights and bootstrap).

    Returns ``{"protocol", "protocol_check", "n_real", "n_synthetic", "metrics": {name: {value, ci,
    higher_is_better, reference, status, message, params, details, protocol}}}``; a metric returning
    sub-results gives ``name.key`` entries. ``protocol_check`` (None without a protocol) holds the
    protocol's sample counts and ``note``: "n below protocol (5 < 1000)" when they are not met.
    """
    plugins = metric_plugins(metrics, train is not None, params, protocol)
    with tempfile.TemporaryDirectory(prefix="mapped-", dir=_scratch()) as scratch:
        real_set, real_fp = as_set(real, "real", normalize, Path(scratch))
        syn_set, _ = as_set(synthetic, "synthetic", normalize, Path(scratch))
        train_set = as_set(train, "train", normalize, Path(scratch))[0] if train is not None else None
        return _scored(plugins, real_set, real_fp, syn_set, train_set, seed, device, cache_dir, progress, protocol)


def _scratch() -> Path:
    """Where file sets are converted into cohorts on disk for one evaluation (removed after it)."""
    from benchgen import paths

    folder = paths.cache_dir("scratch")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _scored(plugins: dict[str, Any], real_set: Cohort, real_fp: str, syn_set: Cohort, train_set: Cohort | None,
            seed: int, device: str, cache_dir: Path | None, progress: ProgressFn, protocol: str) -> dict[str, Any]:
    from benchgen import paths

    ctx = MetricContext(seed=seed, device=device,
                        cache_dir=cache_dir if cache_dir is not None else paths.cache_dir("features"),
                        real_fingerprint=real_fp,
                        progress=progress)
    results: dict[str, Any] = {}
    for name, metric in plugins.items():
        assert isinstance(metric, Metric)
        for column, res in score_metric(metric, name, syn_set, real_set, train_set, ctx):
            if res.status == "error" and not (res.message or "").startswith(name):
                res.message = f"{name}: {res.message}"
            results[column] = {**result_entry(metric, res), "protocol": protocol}
    check = protocols.get(protocol).check(len(real_set), len(syn_set), syn_set.shape) \
        if protocol else None
    return {"protocol": protocol, "protocol_check": check, "n_real": len(real_set), "n_synthetic": len(syn_set),
            "metrics": results}


def _metric_tables(metrics: Sequence[str], train: bool, params: dict[str, dict[str, Any]],
                   protocol: str) -> dict[str, dict[str, Any]]:
    """label -> {plugin, params}: the named metrics (default DEFAULT_METRICS, + memorization with a training
    set) with their ``--param`` values, or a protocol's metrics with its neutral params."""
    if protocol:
        preset = protocols.get(protocol, "--protocol")
        if metrics:
            raise ConfigError(f"--metric and --protocol {protocol}: a protocol fixes its metrics "
                              f"({', '.join(preset.metrics)})", "drop --metric, or drop --protocol")
        if train:
            raise ConfigError(f"--train: protocol {protocol} has no metric that uses a training set",
                              "drop --train, or score memorization without --protocol")
        return protocols.metric_tables(preset, {n: {"params": p} for n, p in params.items()}, "--param ")
    names = list(metrics) or list(DEFAULT_METRICS) + (["memorization"] if train else [])
    unknown = set(params) - set(names)
    if unknown:
        raise ConfigError(f"--param given for {', '.join(sorted(unknown))}, which is not among the metrics "
                          f"({', '.join(names)})")
    return {n: {"plugin": n, "params": params.get(n)} for n in names}
