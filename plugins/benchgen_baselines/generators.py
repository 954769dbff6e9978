"""Baseline generators, so a leaderboard means something before any network trains.

* ``holdout``   — real held-out scans (the validation split): the "real images" reference row.
* ``memorizer`` — returns training scans verbatim: it must lose on the memorization metric.
* ``gaussian``  — voxel mean + low-rank PCA Gaussian of the training set.
* ``noise``     — i.i.d. noise in [0, 1]: the floor every model must beat.

All state is written as safetensors tensors + JSON (no pickles), so ``load`` alone can sample.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from benchgen.conditions import conditions_of
from benchgen.descriptions import read_description
from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import FitContext, Generator, ProgressFn, no_progress
from benchgen.volumes import Cohort

STATE_FILE = "state.safetensors"
META_FILE = "state.json"


def _write_state(folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(folder / STATE_FILE))
    (folder / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))


def _read_state(folder: Path, plugin: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    folder = Path(folder)
    state, meta = folder / STATE_FILE, folder / META_FILE
    if not state.is_file() or not meta.is_file():
        raise DataError(f"{folder}: no saved '{plugin}' generator ({STATE_FILE} and {META_FILE} expected)",
                        "fit the generator first, or point at the checkpoint folder it was saved to")
    try:
        tensors = load_file(str(state))
    except (OSError, SafetensorError) as exc:  # a truncated or foreign file
        raise DataError(f"{state}: not a readable '{plugin}' state ({exc})",
                        "the checkpoint is damaged: copy it again, or fit again (benchgen train --force)") from None
    return tensors, read_description(meta, what=f"'{plugin}' state description",
                                     hint="the checkpoint is damaged: fit again", error=DataError)


def _not_fitted(plugin: str) -> DataError:
    return DataError(f"generator '{plugin}' is not fitted", "call fit() or load() before sample()")


# ------------------------------------------------------------------------------ real-scan pools
def draw_indices(pool: int, n: int, seed: int) -> np.ndarray:
    """``n`` indices into a pool of ``pool`` scans: without replacement while ``n ≤ pool``; beyond that
    every scan once (in a seeded order) and the remaining ``n - pool`` drawn with replacement."""
    if pool < 1:
        raise DataError("cannot sample from an empty pool of scans")
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    rng = np.random.default_rng(seed)
    if n <= pool:
        return rng.permutation(pool)[:n]
    return np.concatenate([rng.permutation(pool), rng.integers(0, pool, size=n - pool)])


class ScanPool(Generator):
    """Samples stored real scans by index; subclasses choose which split fills the pool."""

    source = "?"  # which split the pool holds, recorded in sampler_info

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._scans: torch.Tensor | None = None
        self._ids: list[str] = []
        self._conds: list[str | None] | None = None  # each pool scan's condition (None: a checkpoint from before)
        self._last: dict[str, Any] = {}

    def _set_pool(self, cohort: Cohort) -> None:
        if len(cohort) < 1:
            raise DataError(f"generator '{self.name}': the {self.source} split is empty")
        # No copy: cohorts are never modified in place, and a paper-sized training set is ~3 GB.
        self._scans = cohort.data.detach().to("cpu", torch.float32)
        self._ids = list(cohort.subject_ids)
        self._conds = conditions_of(cohort.subject_ids, cohort.metadata)

    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        if self._scans is None:
            raise _not_fitted(self.name)
        pool = int(self._scans.shape[0])
        idx = draw_indices(pool, n, seed)
        self._last = {"n": int(n), "seed": int(seed), "with_replacement": bool(n > pool),
                      "subject_ids": [self._ids[i] for i in idx]}
        return self._emit(idx, seed, progress)

    def _emit(self, idx: np.ndarray, seed: int, progress: ProgressFn) -> torch.Tensor:
        """The volumes made from the pool scans `idx` (one per row): copies here; augmenting pools transform them."""
        assert self._scans is not None
        progress("copying scans", len(idx), len(idx))
        return self._scans[torch.from_numpy(np.asarray(idx, dtype=np.int64))]  # advanced indexing returns a copy

    def conditions(self) -> tuple[str, ...]:
        return ("condition",)  # a real scan carries its own condition: each row is drawn from its condition's scans

    def sample_conditional(self, table: list[dict[str, Any]], seed: int,
                           progress: ProgressFn = no_progress) -> torch.Tensor:
        """Per condition of the table, its rows drawn from the pool's scans of that condition like ``sample``
        (a single-condition pool gives exactly ``sample(n, seed)``)."""
        if self._scans is None:
            raise _not_fitted(self.name)
        wanted = [row.get("condition") for row in table]
        conds = self._conds
        if conds is None:  # a pool saved before conditions were recorded: only a one-condition table is safe
            if len(set(wanted)) > 1:
                raise ConfigError(f"generator '{self.name}': its checkpoint predates condition records",
                                  "fit it again (benchgen train --force) to sample several conditions")
            conds = [wanted[0] if wanted else None] * len(self._ids)
        idx = np.empty(len(table), dtype=np.int64)
        for cond in dict.fromkeys(wanted):
            rows = [i for i, w in enumerate(wanted) if w == cond]
            members = np.asarray([i for i, c in enumerate(conds) if c == cond], dtype=np.int64)
            if members.size == 0:
                have = sorted({str(c) for c in conds})
                raise ConfigError(f"generator '{self.name}': no {cond} scan in its {self.source} split",
                                  f"it has: {', '.join(have)}")
            idx[rows] = members[draw_indices(members.size, len(rows), seed)]
        self._last = {"n": len(table), "seed": int(seed), "with_replacement": len(set(idx.tolist())) < len(idx),
                      "subject_ids": [self._ids[i] for i in idx]}
        return self._emit(idx, seed, progress)

    def last_subject_ids(self) -> list[str]:
        """Subject ids of the scans returned by the last ``sample`` call, in order."""
        return list(self._last.get("subject_ids", []))

    def sampler_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"sampler": "copy", "source": self.source, "pool_size": len(self._ids),
                                "replacement": "none while n <= pool_size, then with replacement"}
        if self._last:
            info["with_replacement"] = self._last["with_replacement"]
        return info

    def save(self, folder: Path) -> None:
        if self._scans is None:
            raise _not_fitted(self.name)
        _write_state(folder, {"scans": self._scans},
                     {"plugin": self.name, "source": self.source, "subject_ids": self._ids, "conditions": self._conds,
                      **self._state_meta()})

    def _state_meta(self) -> dict[str, Any]:
        """What a subclass adds to the saved state's JSON (read back by ``_restore_meta``)."""
        return {}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        pass

    def load(self, folder: Path) -> None:
        tensors, meta = _read_state(folder, self.name)
        self._scans = tensors["scans"]
        self._ids = list(meta["subject_ids"])
        self._conds = meta.get("conditions")
        self._restore_meta(meta)


class Holdout(ScanPool):
    """Real held-out scans from the validation split (never train; the test split is the scoring
    reference and is never shown to generators). The paper's "real images" row."""

    version = "1"
    source = "validation"

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        if ctx.val is None or len(ctx.val) == 0:
            raise DataError("generator 'holdout' needs a validation split (ctx.val)",
                            "give the suite's dataset split a non-zero 'val' fraction")
        self._set_pool(ctx.val)


@dataclass(frozen=True)
class MemorizerParams:
    max_pool: int | None = None  # keep at most this many training scans (seeded by the fit seed); None: all

    def __post_init__(self) -> None:
        if self.max_pool is not None and self.max_pool < 1:
            raise ValueError(f"max_pool must be ≥ 1 or omitted, got {self.max_pool}")


class Memorizer(ScanPool):
    """Returns training scans verbatim: a perfect copy machine that the memorization metric must flag."""

    version = "1"
    source = "train"
    Params = MemorizerParams
    tiny_params: ClassVar[dict[str, Any]] = {"max_pool": 8}

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        if self.params.max_pool is not None and self.params.max_pool < len(train):
            keep = np.sort(np.random.default_rng(ctx.seed).permutation(len(train))[: self.params.max_pool])
            train = train.subset(keep.tolist())
        self._set_pool(train)


# ------------------------------------------------------------------------------ PCA Gaussian
@dataclass(frozen=True)
class GaussianParams:
    rank: int = 16  # principal components kept (capped at n_train - 1)
    temperature: float = 1.0  # multiplies the standard deviation along every component
    exact: bool = False  # full SVD instead of randomized (torch.svd_lowrank); slower on big cohorts

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError(f"rank must be ≥ 1, got {self.rank}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


def pca(x: torch.Tensor, rank: int, seed: int, exact: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean V, components k×V with orthonormal rows, per-component std k) of rows of ``x`` (N×V)."""
    n = x.shape[0]
    mean = x.mean(0)
    k = min(rank, n - 1)
    if k < 1:  # one scan: nothing to vary, the model is its mean
        return mean, x.new_zeros((0, x.shape[1])), x.new_zeros(0)
    xc = x - mean
    if exact or n <= 64:
        _, s, vh = torch.linalg.svd(xc, full_matrices=False)
        s, comps = s[:k], vh[:k]
    else:
        # Randomized SVD with oversampling + power iterations: exact SVD of N×V (V ~ 10^6) is too slow.
        # torch's sketch uses the global RNG, so fork it and seed for a deterministic fit.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(xc, q=min(k + 10, n, x.shape[1]), niter=4)
        s, comps = s[:k], v[:, :k].T
    # Fix the sign of each component (largest-magnitude loading positive): stable across SVD backends.
    signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True))).squeeze(1)
    signs[signs == 0] = 1
    comps = comps * signs[:, None]
    std = s / math.sqrt(n - 1)
    return mean, comps.contiguous(), std


class GaussianPCA(Generator):
    """Voxel mean plus a Gaussian along the training set's top principal components, clipped to [0, 1].

    A linear model of anatomy: it knows the average brain and its main modes of variation, nothing else.
    """

    version = "1"
    Params = GaussianParams
    tiny_params: ClassVar[dict[str, Any]] = {"rank": 3}

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._mean: torch.Tensor | None = None
        self._comps: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        self._shape: tuple[int, int, int] = (0, 0, 0)

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        if len(train) < 1:
            raise DataError("generator 'gaussian': the training split is empty")
        ctx.progress("fitting PCA", 0, 1)
        x = train.data.detach().to("cpu", torch.float32).reshape(len(train), -1)
        self._mean, self._comps, self._std = pca(x, self.params.rank, ctx.seed, self.params.exact)
        self._shape = train.shape
        ctx.progress("fitting PCA", 1, 1)

    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        if self._mean is None or self._comps is None or self._std is None:
            raise _not_fitted("gaussian")
        gen = torch.Generator().manual_seed(int(seed))
        z = torch.randn((n, self._std.shape[0]), generator=gen, dtype=torch.float32)
        x = self._mean + (z * (self._std * self.params.temperature)) @ self._comps
        progress("sampling", n, n)
        return x.clamp_(0.0, 1.0).reshape(n, 1, *self._shape).contiguous()

    def sampler_info(self) -> dict[str, Any]:
        return {"sampler": "pca-gaussian", "rank": int(self._std.shape[0]) if self._std is not None else None}

    def save(self, folder: Path) -> None:
        if self._mean is None or self._comps is None or self._std is None:
            raise _not_fitted("gaussian")
        _write_state(folder, {"mean": self._mean, "components": self._comps, "std": self._std},
                     {"plugin": "gaussian", "shape": list(self._shape)})

    def load(self, folder: Path) -> None:
        tensors, meta = _read_state(folder, "gaussian")
        self._mean, self._comps, self._std = tensors["mean"], tensors["components"], tensors["std"]
        self._shape = tuple(int(s) for s in meta["shape"])  # type: ignore[assignment]


# ------------------------------------------------------------------------------ noise
@dataclass(frozen=True)
class NoiseParams:
    distribution: Literal["uniform", "gaussian"] = "uniform"
    mean: float = 0.5  # gaussian only
    std: float = 0.25  # gaussian only; values are clipped to [0, 1]

    def __post_init__(self) -> None:
        if not 0.0 <= self.mean <= 1.0:
            raise ValueError(f"mean must be in [0, 1], got {self.mean}")
        if not (self.std > 0 and math.isfinite(self.std)):
            raise ValueError(f"std must be > 0, got {self.std}")


class Noise(Generator):
    """I.i.d. voxel noise in [0, 1] at the training shape: uniform, or a clipped Gaussian."""

    version = "1"
    Params = NoiseParams

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._shape: tuple[int, int, int] | None = None

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        self._shape = train.shape  # the only thing noise learns

    def sample(self, n: int, seed: int, progress: ProgressFn = no_progress) -> torch.Tensor:
        if self._shape is None:
            raise _not_fitted("noise")
        gen = torch.Generator().manual_seed(int(seed))
        size = (n, 1, *self._shape)
        if self.params.distribution == "uniform":
            x = torch.rand(size, generator=gen, dtype=torch.float32)
        else:
            x = torch.randn(size, generator=gen, dtype=torch.float32).mul_(self.params.std).add_(self.params.mean)
            x.clamp_(0.0, 1.0)
        progress("sampling", n, n)
        return x

    def sampler_info(self) -> dict[str, Any]:
        return {"sampler": f"iid-{self.params.distribution}"}

    def save(self, folder: Path) -> None:
        if self._shape is None:
            raise _not_fitted("noise")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / META_FILE).write_text(json.dumps({"plugin": "noise", "shape": list(self._shape)}))

    def load(self, folder: Path) -> None:
        meta = Path(folder) / META_FILE
        if not meta.is_file():
            raise DataError(f"{folder}: no saved 'noise' generator ({META_FILE} expected)")
        desc = read_description(meta, ("shape",), what="'noise' state description",
                                hint="the checkpoint is damaged: fit again", error=DataError)
        self._shape = tuple(int(s) for s in desc["shape"])  # type: ignore[assignment]
