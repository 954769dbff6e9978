"""What a conditional ddpm conditions on: learned from the training cohort, stored in the checkpoint.

* ``condition`` (the diagnosis, read by :func:`benchgen.conditions.condition_of`) becomes a class label for
  MONAI's class embedding: ``num_class_embeds = classes + 1``, the last index being the null class of
  classifier-free guidance;
* ``age`` (z-scored with the training mean and sd) and ``sex`` (M = +1, F = -1, unknown = 0) become one
  context token ``B×1×dim`` for the UNet's cross-attention. Age carries a "given" flag beside its z-score, so
  the null context (all zeros) is not the mean age.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from benchgen.conditions import condition_of
from benchgen.errors import BenchgenError, ConfigError, DataError
from benchgen.volumes import Cohort

SEX = {"m": 1.0, "male": 1.0, "f": -1.0, "female": -1.0}
SEX_UNKNOWN = ("u", "unknown", "o", "other", "n/a", "na")  # written as unknown: the null value 0


class _Unusable(ValueError):
    """A metadata value the conditioner cannot use; callers turn it into their one-line error kind."""


@contextlib.contextmanager
def reported_as(error: type[BenchgenError], hint: str) -> Iterator[None]:
    """Raise an unusable value as `error` ("ddpm: <where>: <what>") with `hint`."""
    try:
        yield
    except _Unusable as exc:
        raise error(f"ddpm: {exc}", hint) from None


@dataclass(frozen=True)
class Condition:
    """The conditioning inputs of N volumes, as the UNet takes them (``None`` where not conditioned on)."""

    labels: torch.Tensor | None  # (N,) long: class indices
    context: torch.Tensor | None  # (N, 1, dim) float32: the cross-attention token
    null_label: int = 0

    def __len__(self) -> int:
        return len(self.labels if self.labels is not None else self.context)  # type: ignore[arg-type]

    def _map(self, fn: Any) -> Condition:
        return Condition(None if self.labels is None else fn(self.labels),
                         None if self.context is None else fn(self.context), self.null_label)

    def take(self, index: Any) -> Condition:
        return self._map(lambda t: t[index])

    def to(self, device: Any) -> Condition:
        return self._map(lambda t: t.to(device))

    def dropped(self, mask: torch.Tensor) -> Condition:
        """The null condition where `mask` (N bools) is true: condition dropout, and all-true for CFG."""
        labels = None if self.labels is None else torch.where(mask.to(self.labels.device), self.null_label,
                                                              self.labels)
        context = None if self.context is None else \
            self.context * (~mask).to(self.context.device, self.context.dtype)[:, None, None]
        return Condition(labels, context, self.null_label)

    def nulled(self) -> Condition:
        return self.dropped(torch.ones(len(self), dtype=torch.bool))

    def doubled(self, other: Condition) -> Condition:
        """This condition's rows, then `other`'s (one forward pass for both halves of guidance)."""
        cat = [None if a is None else torch.cat([a, b])  # type: ignore[list-item]
               for a, b in ((self.labels, other.labels), (self.context, other.context))]
        return Condition(cat[0], cat[1], self.null_label)

    def kwargs(self) -> dict[str, torch.Tensor]:
        """Keyword arguments of ``DiffusionModelUNet.forward``."""
        out = {"class_labels": self.labels, "context": self.context}
        return {k: v for k, v in out.items() if v is not None}

    def tensors(self) -> list[torch.Tensor]:
        return [t for t in (self.labels, self.context) if t is not None]


def _condition(meta: dict[str, Any], where: str) -> str:
    try:
        value = condition_of(meta, where)
    except DataError as exc:  # an unknown spelling: condition_of names the allowed ones
        raise _Unusable(exc.message) from None
    if value is None:
        raise _Unusable(f"{where}: no condition (or diagnosis) value, which condition_on needs")
    return value


def _given(meta: dict[str, Any], key: str, where: str) -> Any:
    value = meta.get(key)
    if value is None:
        raise _Unusable(f"{where}: no {key} value, which condition_on needs")
    return value


def _age(meta: dict[str, Any], where: str) -> float:
    value = _given(meta, "age", where)
    try:
        age = float(value)
    except (TypeError, ValueError):
        age = math.nan
    if not math.isfinite(age):
        raise _Unusable(f"{where}: age {value!r} is not a finite number")
    return age


def _sex(meta: dict[str, Any], where: str) -> float:
    value = _given(meta, "sex", where)
    key = str(value).strip().lower()
    if key in SEX_UNKNOWN:
        return 0.0
    if key not in SEX:
        raise _Unusable(f"{where}: sex {value!r} is not one of M, F (male, female) or unknown")
    return SEX[key]


Rows = Sequence[tuple[str, dict[str, Any]]]  # (where, metadata) per volume


def scan_rows(cohort: Cohort, split: str = "training") -> list[tuple[str, dict[str, Any]]]:
    """Each scan's metadata beside the words a message names it by ("training scan 'sub-01'")."""
    return [(f"{split} scan '{s}'", m) for s, m in zip(cohort.subject_ids, cohort.metadata)]


@dataclass(frozen=True)
class Conditioner:
    """How metadata become :class:`Condition` tensors: the condition keys, the training classes and age stats."""

    condition_on: tuple[str, ...]
    classes: tuple[str, ...] = ()
    age_mean: float = 0.0
    age_sd: float = 1.0

    @classmethod
    def learn(cls, condition_on: Sequence[str], rows: Rows) -> Conditioner:
        """Classes (sorted) and the age mean / sd of the training scans; a scan missing a value is unusable."""
        classes: tuple[str, ...] = ()
        mean, sd = 0.0, 1.0
        if "condition" in condition_on:
            classes = tuple(sorted({_condition(m, w) for w, m in rows}))
        if "age" in condition_on:
            ages = np.array([_age(m, w) for w, m in rows])
            mean, sd = float(ages.mean()), float(ages.std()) or 1.0  # one age only: nothing to scale
        return cls(tuple(condition_on), classes, mean, sd)

    @property
    def num_class_embeds(self) -> int | None:
        return len(self.classes) + 1 if "condition" in self.condition_on else None  # + the null class

    @property
    def context_dim(self) -> int | None:
        dim = 2 * ("age" in self.condition_on) + ("sex" in self.condition_on)  # (age z, age given), sex
        return dim or None

    def _label(self, meta: dict[str, Any], where: str) -> int:
        value = _condition(meta, where)
        if value not in self.classes:
            raise _Unusable(f"{where}: condition {value!r} is not one the model was trained on; "
                            f"allowed: {', '.join(self.classes)}")
        return self.classes.index(value)

    def _features(self, meta: dict[str, Any], where: str) -> list[float]:
        feats: list[float] = []
        if "age" in self.condition_on:
            feats += [(_age(meta, where) - self.age_mean) / self.age_sd, 1.0]
        if "sex" in self.condition_on:
            feats.append(_sex(meta, where))
        return feats

    def encode(self, rows: Rows) -> Condition:
        """The condition of each row (raises an unusable value: wrap the call in :func:`reported_as`)."""
        labels = context = None
        if self.num_class_embeds is not None:
            labels = torch.tensor([self._label(m, w) for w, m in rows], dtype=torch.long)
        if self.context_dim is not None:
            feats = [self._features(m, w) for w, m in rows]
            context = torch.tensor(feats, dtype=torch.float32).reshape(len(rows), 1, self.context_dim)
        return Condition(labels, context, len(self.classes))

    def null(self, n: int) -> Condition:
        """`n` rows of the null condition (what plain ``sample(n, seed)`` of a conditional model draws)."""
        labels = None if self.num_class_embeds is None else torch.full((n,), len(self.classes), dtype=torch.long)
        context = None if self.context_dim is None else torch.zeros(n, 1, self.context_dim)
        return Condition(labels, context, len(self.classes))

    def to_dict(self) -> dict[str, Any]:
        """What the checkpoint records (``ddpm.json`` ``conditioning``)."""
        return {"condition_on": list(self.condition_on), "classes": list(self.classes), "null_class": len(self.classes),
                "age_mean": self.age_mean, "age_sd": self.age_sd,
                "context": (["age_z", "age_given"] if "age" in self.condition_on else [])
                + (["sex"] if "sex" in self.condition_on else [])}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> Conditioner:
        try:
            return cls(tuple(d["condition_on"]), tuple(d["classes"]), float(d["age_mean"]), float(d["age_sd"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"ddpm: {where}: unreadable conditioning record ({type(exc).__name__}: {exc})",
                              "restore the checkpoint's ddpm.json, or train again") from None


@dataclass(frozen=True)
class FitConditions:
    """A conditional fit's inputs beside the volumes: the conditioner and each split's conditions."""

    conditioner: Conditioner
    train: Condition
    val: Condition | None = None
