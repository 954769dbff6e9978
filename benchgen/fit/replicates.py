"""Training runs of one generator row (``[evaluation] fits = N``): which fit, with which seed, and what of that
enters cell keys and records.

Fit 0 is trained with the row's own ``seed`` and keys its cells exactly as a suite fitted once does, so
adding fits to a suite reuses everything already computed; fit k > 0 is trained with a seed derived from
``(seed, k)`` and adds ``fit = k`` to its cell keys (its checkpoint key differs through the seed). Records of
a row fitted more than once say which fit they belong to (``extra.fit``, ``extra.fit_seed``); a board pools
them (benchgen.functional.hierarchical). A fine-tuned row's pretrain parent is fitted once per parent config and
shared by all its fits: only the fine-tuning is repeated.

Other replicate indices (e.g. a re-drawn training set) sit beside ``fit`` in :class:`Replicate` with the
same rule: present in keys and records only when not 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from benchgen.hashing import fingerprint
from benchgen.suite.model import PluginSpec


@dataclass(frozen=True)
class Replicate:
    """Which training run of a row a cell belongs to (0: the run a one-fit suite makes)."""

    fit: int = 0

    def key_part(self) -> dict[str, int]:
        """What joins a cell key: nothing for fit 0, so one-fit suites keep every key."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    def suffix(self) -> str:
        """``-fit2`` for unit ids, file names and progress lines ('' for fit 0)."""
        return "".join(f"-{k}{v}" for k, v in self.key_part().items())


def fit_seed(seed: int, fit: int) -> int:
    """The training seed of fit `fit` of a row whose seed is `seed`: the seed itself for fit 0, a 31-bit
    number derived from both otherwise (distinct fits never share a seed by accident)."""
    return seed if fit == 0 else int(fingerprint({"seed": seed, "fit": fit}, 8), 16) % (2**31 - 1)


def fit_spec(spec: PluginSpec[Any], fit: int) -> PluginSpec[Any]:
    """The row's generator spec for training run `fit` (its seed replaced)."""
    return spec if fit == 0 else dataclasses.replace(spec, seed=fit_seed(spec.seed, fit))


def record_extra(replicate: Replicate, seed: int, fits: int) -> dict[str, int]:
    """What a record says of its fit: ``fit`` and ``fit_seed`` when the row has several (nothing otherwise)."""
    return {"fit": replicate.fit, "fit_seed": seed} if fits > 1 or replicate.fit else {}
