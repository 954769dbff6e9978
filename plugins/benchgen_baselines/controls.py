"""Control rows for a utility board: a set it must score below zero.

* ``label-swap`` — real training scans returned under another condition's label: the negative control of
  ΔAUC (the positive control is ``holdout``, real held-out scans under their own labels). With ``swap`` (the
  default) every scan takes the next condition in sorted order (healthy ↔ disease when there are two), so
  a classifier trained on them learns the disease backwards; ``permute`` shuffles the labels instead (about
  half stay right when there are two conditions: a weaker control).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from benchgen.errors import DataError
from benchgen.interfaces import FitContext
from benchgen.volumes import Cohort
from benchgen_baselines.generators import ScanPool


def swapped_labels(conds: list[str | None], mode: str, seed: int) -> list[str | None]:
    """Each scan's label after the swap: the next condition in sorted order (``swap``) or a seeded
    permutation of the labels (``permute``)."""
    if mode == "permute":
        order = np.random.default_rng(seed).permutation(len(conds))
        return [conds[int(i)] for i in order]
    names = sorted({c for c in conds if c is not None})
    nxt = {c: names[(k + 1) % len(names)] for k, c in enumerate(names)}
    return [None if c is None else nxt[c] for c in conds]


@dataclass(frozen=True)
class LabelSwapParams:
    mode: Literal["swap", "permute"] = "swap"


class LabelSwap(ScanPool):
    """Real training scans under swapped condition labels: a row a utility board must put below zero."""

    records_sources: ClassVar[bool] = True  # every volume derives from one training scan: records name it
    version = "1"
    source = "train"
    Params = LabelSwapParams

    def __init__(self, params: Any = None):
        super().__init__(params)
        self._true: list[str | None] = []

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        self._set_pool(train)
        self._true = list(self._conds or [])
        if len({c for c in self._true if c is not None}) < 2:
            raise DataError("generator 'label-swap': the training split has fewer than two conditions to swap",
                            "give the dataset scans of at least two conditions")
        self._conds = swapped_labels(self._true, self.params.mode, ctx.seed)

    def _state_meta(self) -> dict[str, Any]:
        return {"true_conditions": self._true}

    def _restore_meta(self, meta: dict[str, Any]) -> None:
        self._true = list(meta.get("true_conditions", []))

    def true_conditions(self) -> list[str | None]:
        """Each pool scan's own condition (its label under this generator is another one)."""
        return list(self._true)

    def sampler_info(self) -> dict[str, Any]:
        return {**super().sampler_info(), "sampler": f"label-{self.params.mode}"}
