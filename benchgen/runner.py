"""run_suite(): data -> splits -> for each generator: fit (or reuse) -> for each seed: sample -> score.

Every finished (suite, generator, seed, metric) cell is stored at once, keyed by a fingerprint of
everything that made it; a re-run skips finished cells, so an interrupted run (Ctrl-C, kill -9)
resumes where it stopped. A failing cell is stored as an error and the run goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchgen import paths
from benchgen.atomic import atomic_path, write_text
from benchgen.errors import BenchgenError, DataError
from benchgen.hashing import fingerprint
from benchgen.interfaces import FitContext, Generator, Metric, MetricContext, MetricResult, PrepContext
from benchgen.progress import ProgressReporter
from benchgen.provenance import environment, now, resolve_device
from benchgen.splits import Splits, split_cohort
from benchgen.store import Record, ResultStore
from benchgen.suite import PluginSpec, Suite
from benchgen.volumes import Cohort

GENERATOR_FILE = "generator.json"


@dataclass
class RunSummary:
    suite: str
    profile: str
    results: Path
    computed: int = 0
    cached: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (cell, message)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    data_failures: list[tuple[str, str]] = field(default_factory=list)  # (subject or path, reason)
    outputs: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------------------------- data
@dataclass
class Data:
    splits: Splits
    fingerprint: str
    failures: list[tuple[str, str]]


def _cache_write_cohort(cohort: Cohort, failures: list[tuple[str, str]], stem: Path) -> None:
    """Tensor in safetensors + metadata in JSON, each written to a temp name and renamed."""
    from safetensors.torch import save_file

    with atomic_path(str(stem) + ".safetensors", ".safetensors") as tmp:
        save_file({"data": cohort.data.contiguous()}, tmp)
    meta = {"affine": cohort.affine.tolist(), "subject_ids": cohort.subject_ids, "metadata": cohort.metadata,
            "failures": failures}
    write_text(str(stem) + ".json", json.dumps(meta))  # written last: the JSON marks the entry complete


def _cache_read_cohort(stem: Path) -> tuple[Cohort, list[tuple[str, str]]] | None:
    from safetensors.torch import load_file

    if not (Path(str(stem) + ".json").is_file() and Path(str(stem) + ".safetensors").is_file()):
        return None
    meta = json.loads(Path(str(stem) + ".json").read_text())
    data = load_file(str(stem) + ".safetensors")["data"]
    cohort = Cohort(data, np.asarray(meta["affine"]), meta["subject_ids"], meta["metadata"])
    return cohort, [tuple(f) for f in meta["failures"]]


def conform_check(volumes: list[Any], shape: tuple[int, int, int]) -> tuple[list[Any], list[tuple[str, str]]]:
    """Keep volumes at the suite's shape, finite, in [0, 1]; the rest are reported, not fatal."""
    good, bad = [], []
    for v in volumes:
        where = v.source or v.subject_id
        if tuple(v.array.shape) != tuple(shape):
            bad.append((where, f"shape {v.array.shape} after preprocessing, expected {tuple(shape)}; "
                               "add 'crop-pad' and 'resize' steps"))
        elif not np.isfinite(v.array).all():
            bad.append((where, "NaN or Inf voxels after preprocessing"))
        elif v.array.min() < -1e-4 or v.array.max() > 1 + 1e-4:
            bad.append((where, f"values in [{v.array.min():.3g}, {v.array.max():.3g}] after preprocessing, "
                               "expected [0, 1]; end the chain with 'scale-01'"))
        else:
            good.append(v)
    return good, bad


def dataset_fingerprint(suite: Suite) -> tuple[str, Any, list[Any]]:
    """Fingerprint of the split cohort from cheap item keys (no voxels read): source, items, chain,
    shape and split. Returns (fingerprint, source plugin, items)."""
    source = suite.source.build()
    items = source.items()
    if not items:
        raise DataError(f"dataset source '{suite.source.plugin}' found no scans", "check [dataset.params]")
    fp = fingerprint({"source": suite.source.config(), "items": [i.key for i in items],
                      "steps": [s.config() for s in suite.steps], "shape": suite.shape,
                      "first_volume": suite.first_volume, "split": suite.split, "split_seed": suite.split_seed})
    return fp, source, items


def load_data(suite: Suite, progress: Any = None, use_cache: bool = True) -> Data:
    """Load the suite's dataset through its preprocessing chain (cached), then split it by subject."""
    from benchgen.preprocessing import process_items

    fp, source, _items = dataset_fingerprint(suite)
    stem = paths.cache_dir("datasets") / f"{suite.source.plugin}-{fp}"
    cached = _cache_read_cohort(stem) if use_cache else None
    if cached is None:
        steps = [s.build() for s in suite.steps]
        ctx = PrepContext(target_shape=suite.shape, first_volume=suite.first_volume)
        volumes, failures = process_items(source, steps, ctx, jobs=suite.jobs,
                                          progress=progress or (lambda *a, **k: None))
        volumes, bad = conform_check(volumes, suite.shape)
        fails = [(f.path or f.subject_id, f.reason) for f in failures] + bad
        if not volumes:
            first = f" ({len(fails)} failed; first: {fails[0][0]}: {fails[0][1]})" if fails else ""
            raise DataError(f"no usable scans from dataset source '{suite.source.plugin}'{first}")
        cohort = Cohort.from_volumes(volumes)
        _cache_write_cohort(cohort, fails, stem)
    else:
        cohort, fails = cached
    return Data(split_cohort(cohort, suite.split, suite.split_seed), fp, fails)


# ---------------------------------------------------------------------------------------- generators
def checkpoint_key(spec: PluginSpec, data_fp: str) -> str:
    return f"{spec.plugin}-{fingerprint({'generator': spec.config(), 'data': data_fp, 'seed': spec.seed})}"


def fit_or_load(spec: PluginSpec, data: Data, suite: Suite, device: str, progress: Any,
                force: bool = False) -> tuple[Generator, Path]:
    """A fitted generator: loaded from its checkpoint if one exists for this config and data, else fitted
    (resuming from its work folder after an interruption) and saved atomically."""
    gen: Generator = spec.build()
    root = paths.cache_dir("checkpoints")
    key = checkpoint_key(spec, data.fingerprint)
    final = root / key
    if (final / GENERATOR_FILE).is_file() and not force:
        gen.load(final)
        return gen, final
    workdir = root / f"{key}.work"
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = FitContext(workdir=workdir, seed=spec.seed, device=device, profile=suite.profile,
                     val=data.splits.val, progress=progress)
    gen.fit(data.splits.train, ctx)
    if is_main_process():  # under `accelerate launch` only rank 0 writes files
        tmp = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        gen.save(tmp)
        write_generator_json(tmp, spec, data, suite)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        shutil.rmtree(workdir, ignore_errors=True)
    wait_for_everyone()
    return gen, final


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def write_generator_json(folder: Path, spec: PluginSpec, data: Data, suite: Suite) -> None:
    meta = {**spec.config(), "label": spec.label, "seed": spec.seed, "data_fingerprint": data.fingerprint,
            "suite": suite.name, "profile": suite.profile, "shape": list(suite.shape),
            "affine": np.asarray(data.splits.test.affine).tolist(), "created_at": now()}
    (folder / GENERATOR_FILE).write_text(json.dumps(meta, indent=2))


def check_samples(samples: Any, n: int, shape: tuple[int, int, int], label: str) -> torch.Tensor:
    """A generator's output must be n×1×D×H×W, finite, in [0, 1]: anything else is its error."""
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


def sample_cached(gen: Generator, ckpt: Path, n: int, seed: int, suite: Suite, label: str,
                  affine: np.ndarray, progress: Any) -> Cohort:
    from safetensors.torch import load_file, save_file

    path = paths.cache_dir("samples") / f"{ckpt.name}-{fingerprint(gen.sampler_info())}-seed{seed}-n{n}.safetensors"
    if path.is_file():
        data = load_file(str(path))["data"]
    else:
        data = check_samples(gen.sample(n, seed, progress=progress), n, suite.shape, label)
        with atomic_path(path, ".safetensors") as tmp:
            save_file({"data": data.contiguous()}, tmp)
    return Cohort(data, affine, [f"{label}-s{seed}-{i:03d}" for i in range(n)])


# ------------------------------------------------------------------------------------------- metrics
def metric_results(result: MetricResult | dict[str, MetricResult], label: str,
                   metric: Metric) -> list[tuple[str, MetricResult]]:
    """Flatten a metric's result(s) to (column, result); sub-results become `label.key`."""
    if isinstance(result, MetricResult):
        pairs = [(label, result)]
    elif isinstance(result, dict):
        pairs = [(f"{label}.{k}", r) for k, r in result.items()]
    else:
        raise TypeError(f"metric '{label}' returned {type(result).__name__}, expected MetricResult or dict")
    for _, r in pairs:
        if r.higher_is_better is None:
            r.higher_is_better = metric.higher_is_better
    return pairs


# -------------------------------------------------------------------------------------------- cells
@dataclass
class Plan:
    """The cells of one generator: their keys, and which are already in the store."""

    spec: PluginSpec
    keys: dict[tuple[int, str], str]  # (seed, metric label) -> cell key
    done: set[str]

    @property
    def pending(self) -> list[tuple[int, str]]:
        return [cell for cell, key in self.keys.items() if key not in self.done]


def cell_key(suite: Suite, gen: PluginSpec, seed: int, metric: PluginSpec, data_fp: str) -> str:
    return fingerprint({"suite": [suite.name, suite.version, suite.profile], "generator": gen.config(),
                        "fit_seed": gen.seed, "seed": seed, "metric": metric.config(),
                        "label": [gen.label, metric.label], "n": suite.n_samples, "data": data_fp}, 24)


def run_suite(suite: Suite, results: str | Path | None = None, *, quiet: bool = False,
              only: list[str] | None = None, console: Any = None, save_samples: bool = True) -> RunSummary:
    """Run every pending cell of `suite`, storing each as it finishes. Returns what happened."""
    start = time.perf_counter()
    results = Path(results) if results else paths.default_results()
    store = ResultStore(results)  # opened (and checked writable) before any work
    device = resolve_device(suite.device)
    env = environment(device)
    summary = RunSummary(suite.name, suite.profile, results)
    run_id = uuid.uuid4().hex[:12]
    labels = only or list(suite.generators)
    unknown = [g for g in labels if g not in suite.generators]
    if unknown:
        from benchgen.errors import ConfigError

        raise ConfigError(f"unknown generator '{unknown[0]}' in this suite",
                          f"choose from {', '.join(suite.generators)}")

    with ProgressReporter(console=console, enabled=not quiet) as progress:
        data: Data | None = None
        plans = _plans(suite, labels, store, dataset_fingerprint(suite)[0])
        if any(p.pending for p in plans):  # a fully cached re-run reads no voxels
            data = load_data(suite, progress)
            summary.data_failures = data.failures
            for where, reason in data.failures:
                progress.log(f"[yellow]excluded[/] {where}: {reason}")
        for plan in plans:
            summary.cached += len(plan.keys) - len(plan.pending)
            if plan.pending:
                assert data is not None
                _run_generator(plan, suite, data, store, device, env, run_id, progress, summary, save_samples)
    store.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _plans(suite: Suite, labels: list[str], store: ResultStore, data_fp: str) -> list[Plan]:
    plans = []
    for label in labels:
        spec = suite.generators[label]
        keys = {(seed, m): cell_key(suite, spec, seed, mspec, data_fp)
                for seed in suite.seeds for m, mspec in suite.metrics.items()}
        plans.append(Plan(spec, keys, store.done_keys(keys.values())))
    return plans


def _run_generator(plan: Plan, suite: Suite, data: Data, store: ResultStore, device: str,
                   env: dict[str, Any], run_id: str, progress: ProgressReporter, summary: RunSummary,
                   save_samples: bool) -> None:
    spec = plan.spec
    base = dict(suite=suite.name, suite_version=suite.version, profile=suite.profile,
                primary_metric=suite.primary_metric, generator=spec.label, generator_plugin=spec.plugin,
                generator_version=spec.config()["version"], generator_config_hash=fingerprint(spec.config()),
                generator_config={**spec.config(), "seed": spec.seed}, n_real=len(data.splits.test),
                n_synthetic=suite.n_samples, data_fingerprint=data.fingerprint, run_id=run_id, **env)

    def store_cell(seed: int, mlabel: str, column: str, res: MetricResult, cfg: dict[str, Any],
                   sampler: dict[str, Any], seconds: float) -> None:
        key = plan.keys[(seed, mlabel)] if column == mlabel else fingerprint([plan.keys[(seed, mlabel)], column], 24)
        rec = Record(cell_key=key, metric=column, metric_plugin=cfg["plugin"], metric_version=cfg["version"],
                     metric_params=cfg["params"], higher_is_better=res.higher_is_better, value=_float(res.value),
                     ci_low=_float(res.ci[0]) if res.ci else None, ci_high=_float(res.ci[1]) if res.ci else None,
                     reference=_float(res.reference), status=res.status, message=res.message,
                     details=_jsonable(res.details), seed=seed, duration_s=seconds, sampler=sampler,
                     created_at=now(), **base)
        if is_main_process():
            store.put(rec)
        # the (seed, metric) cell counts as done once its main key is stored, sub-results first
        if res.status == "error":
            summary.errors.append((f"{spec.label}/seed {seed}/{column}", res.message or "error"))
        elif res.status == "skipped":
            summary.skipped.append((f"{spec.label}/seed {seed}/{column}", res.message or "skipped"))

    def fail_cells(cells: list[tuple[int, str]], message: str) -> None:
        for seed, mlabel in cells:
            cfg = suite.metrics[mlabel].config()
            store_cell(seed, mlabel, mlabel, MetricResult(None, status="error", message=message), cfg, {}, 0.0)

    progress.log(f"[bold]{spec.label}[/] ({spec.plugin}): {len(plan.pending)} cells to compute")
    try:
        gen, ckpt = fit_or_load(spec, data, suite, device, progress)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a generator that cannot fit fails its own cells only
        fail_cells(plan.pending, f"fit failed: {_message(exc)}")
        return
    sampler = gen.sampler_info()
    test, train = data.splits.test, data.splits.train
    seeds = sorted({seed for seed, _ in plan.pending})
    finished = 0
    for seed in seeds:
        todo = [m for s, m in plan.pending if s == seed]
        try:
            synth = sample_cached(gen, ckpt, suite.n_samples, seed, suite, spec.label, test.affine, progress)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            fail_cells([(seed, m) for m in todo], f"sampling failed: {_message(exc)}")
            continue
        if save_samples and seed == suite.seeds[0] and is_main_process():
            summary.outputs += _save_outputs(suite, spec.label, synth, test)
        for mlabel in todo:
            mspec = suite.metrics[mlabel]
            cfg = mspec.config()
            t0 = time.perf_counter()
            try:
                metric: Metric = mspec.build()
                ctx = MetricContext(seed=seed, device=device, cache_dir=paths.cache_dir("features"),
                                    real_fingerprint=fingerprint([data.fingerprint, "test"]), progress=progress)
                result = metric.score(synth, test, train if metric.needs_train else None, ctx)
                pairs = metric_results(result, mlabel, metric)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # stored as an error cell; the run goes on
                pairs = [(mlabel, MetricResult(None, status="error", message=_message(exc)))]
            seconds = time.perf_counter() - t0
            # sub-results first, the main cell last: its key marks the whole cell finished
            main = [p for p in pairs if p[0] == mlabel]
            subs = [p for p in pairs if p[0] != mlabel]
            for column, res in subs:
                store_cell(seed, mlabel, column, res, cfg, sampler, seconds)
            if not main:
                worst = next((r for _, r in subs if r.status == "error"), None)
                marker = MetricResult(None, status="error" if worst else "ok",
                                      message=worst.message if worst else "sub-results stored as columns",
                                      details={"columns": [c for c, _ in subs], "marker": True})
                main = [(mlabel, marker)]
            for column, res in main:
                store_cell(seed, mlabel, column, res, cfg, sampler, seconds)
            summary.computed += 1
            finished += 1
            progress(f"{spec.label}: scoring", finished, len(plan.pending))


def _save_outputs(suite: Suite, label: str, synth: Cohort, test: Cohort) -> list[Path]:
    """Sample NIfTI files and a real-vs-generated montage for people to look at."""
    from benchgen.plots import montage
    from benchgen.volumes import write_cohort

    folder = paths.runs_dir() / suite.name / suite.profile
    files = write_cohort(synth, folder / "samples" / label)
    png = montage([("real", test.numpy()), (label, synth.numpy())], folder / f"montage-{label}.png", n=3,
                  title=f"{suite.name} ({suite.profile}): real vs {label}")
    return [files[0].parent, png]


def _message(exc: BaseException) -> str:
    if isinstance(exc, BenchgenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if np.isfinite(f) else None


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
