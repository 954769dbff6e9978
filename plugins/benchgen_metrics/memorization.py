"""The metric ``memorization``: copies of training scans (a nearest-neighbour test) and AuthPct."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from benchgen.errors import MetricError
from benchgen.functional import memorization
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.volumes import Cohort
from benchgen_metrics import common
from benchgen_metrics.resampling import check_bootstrap, resampled

_TRAIN_MEMO: dict[tuple[Any, ...], Any] = {}  # real-vs-train and train-vs-train terms, same for every generator


def check_disjoint(metric: str, real: Cohort, train: Cohort, train_digests: list[str] | None = None) -> None:
    """MetricError naming the shared subjects when the real and training sets share subject ids or volumes:
    the threshold would be 0 and nothing could ever be flagged."""
    shared = sorted(set(real.subject_ids) & set(train.subject_ids))
    digests = set(train_digests if train_digests is not None else common.digests(train))
    shared += [sid for sid, h in zip(real.subject_ids, common.digests(real)) if h in digests and sid not in shared]
    if shared:
        listed = ", ".join(shared[:5]) + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
        raise MetricError(
            f"{metric}: the real (test) and training sets share {len(shared)} subject(s) (same subject ids or "
            f"identical volumes): {listed}; the threshold would be 0 and no copy could be flagged",
            "score against held-out scans of subjects not in the training set (rename files if these are "
            "different subjects)")


class Memorization(Metric):
    """Copies of training scans: two numbers.

    ``memorization.copies`` (lower is better): share of synthetic volumes closer to a training scan than any
    held-out real scan is (the ``quantile`` of the held-out scans' nearest-training distances). Default
    ``method="ncc-shift"``: distance = 1 − the largest normalised cross-correlation over translations of up to
    ``max_shift`` voxels per axis, inside a brain mask (catches shifted and rescaled copies); ``method="l2"``:
    Euclidean distance on voxels or ``features`` (the detector of version 1).
    ``memorization.authpct``: AuthPct of Alaa et al. (2022) on Euclidean distances in the ``features`` space;
    its ``reference`` is the held-out real scans' own AuthPct (boards rank it by distance to that reference:
    real scans are not 100 % authentic by this rule, and samples off the data manifold are).
    Flagged volumes and their nearest training subjects are in details.
    """

    version = "3"  # 3: copies resample the threshold too; 2: NCC-over-shifts detector, AuthPct, overlap check
    kind = "memorization"
    higher_is_better = False
    needs_train = True

    @dataclass(frozen=True)
    class Params:
        method: Literal["ncc-shift", "l2"] = "ncc-shift"
        max_shift: int = 2  # ncc-shift: translations of up to this many voxels per axis
        mask: Literal["brain", "none"] = "brain"  # ncc-shift: voxels non-zero in >= half the training scans
        features: str = "voxels"  # l2 and AuthPct: "voxels" or a features plugin (ncc-shift: voxels only)
        weights: str | None = None
        quantile: float = 0.0
        bootstrap: int = 200
        max_flagged: int = 100  # how many flagged volumes are listed in details

        def __post_init__(self) -> None:
            check_bootstrap(self.bootstrap)
            if not 0.0 <= self.quantile <= 1.0:
                raise ValueError(f"quantile must be in [0, 1], got {self.quantile}")
            if self.max_shift < 0:
                raise ValueError(f"max_shift must be >= 0, got {self.max_shift}")
            if self.method == "ncc-shift" and self.features != "voxels":
                raise ValueError("method 'ncc-shift' compares voxels; use method = 'l2' with features")

    def _features(self, synthetic: Cohort, real: Cohort, train: Cohort, ctx: MetricContext
                  ) -> tuple[Any, Any, Any, dict[str, Any]] | MetricResult:
        p = self.params
        if p.features == "voxels":
            return common.voxels(synthetic), common.voxels(real), common.voxels(train), {}
        sets = common.feature_sets(self.name, p.features, p.weights, "none", synthetic, real, ctx)
        if isinstance(sets, MetricResult):
            return sets
        return sets.synthetic, sets.real, common.features(sets.extractor, train, ctx.device), sets.info

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None,
              ctx: MetricContext) -> dict[str, MetricResult] | MetricResult:
        p = self.params
        if train is None:
            raise MetricError(f"{self.name}: needs the training set (benchgen evaluate --train FOLDER)")
        common.check_cohorts(self.name, synthetic=synthetic, real=real, train=train)
        train_digests = common.digests(train)
        check_disjoint(self.name, real, train, train_digests)
        feats = self._features(synthetic, real, train, ctx)
        if isinstance(feats, MetricResult):
            return feats
        xs, xr, xt, info = feats
        memo_key = ((ctx.real_fingerprint, self.fingerprint(), hashlib.sha256("".join(train_digests).encode())
                     .hexdigest(), str(ctx.device)) if ctx.real_fingerprint else None)
        cached = _TRAIN_MEMO.get(memo_key) if memo_key is not None else None

        # Euclidean distances: the l2 detector and AuthPct
        d_syn_l2 = memorization.pairwise_distances(xs, xt)
        if cached is None:
            d_real_l2 = memorization.pairwise_distances(xr, xt)
            d_train_l2 = memorization.pairwise_distances(xt, xt)
        else:
            d_real_l2, d_train_l2 = cached["d_real_l2"], cached["d_train_l2"]
        auth_syn = memorization.authenticity(d_syn_l2, d_train_l2)
        auth_real = memorization.authenticity(d_real_l2, d_train_l2)

        if p.method == "l2":
            nn_syn = d_syn_l2.argmin(1)
            d_syn = d_syn_l2[np.arange(len(nn_syn)), nn_syn]
            d_real = d_real_l2.min(1)
            shift_syn = None
        else:
            mask_arr = (memorization.brain_mask(common.voxels(train)).numpy() if p.mask == "brain"
                        else np.ones(train.shape, bool))
            try:
                ncc_syn, nn_syn, shift_syn = memorization.ncc_shift_search(
                    common.voxels(synthetic), common.voxels(train), p.max_shift, mask_arr, ctx.device)
                if cached is None:
                    ncc_real = memorization.ncc_shift_search(common.voxels(real), common.voxels(train),
                                                             p.max_shift, mask_arr, ctx.device)[0]
                else:
                    ncc_real = cached["ncc_real"]
            except ValueError as exc:
                raise MetricError(f"{self.name}: {exc}") from None
            d_syn, d_real = 1.0 - ncc_syn, 1.0 - ncc_real
            info["mask_voxels"] = int(mask_arr.sum())
        if memo_key is not None and cached is None:
            _TRAIN_MEMO[memo_key] = {"d_real_l2": d_real_l2, "d_train_l2": d_train_l2,
                                     "ncc_real": None if p.method == "l2" else 1.0 - d_real}

        share, flags, thr = memorization.memorization_share(d_syn, d_real, p.quantile)
        if d_real.min() <= 1e-12:
            closest = [real.subject_ids[i] for i in np.flatnonzero(d_real <= 1e-12)]
            how = "identical" if p.method == "l2" else "up to a translation and an intensity scaling"
            raise MetricError(f"{self.name}: held-out real scans {', '.join(closest[:5])} match a training scan "
                              f"exactly ({how}); the threshold would be 0 and no copy could be flagged",
                              "score against held-out scans of subjects not in the training set")
        flagged = []
        for i in np.flatnonzero(flags)[: p.max_flagged]:
            entry = {"synthetic_index": int(i), "synthetic_id": synthetic.subject_ids[i],
                     "train_id": train.subject_ids[int(nn_syn[i])], "distance": float(d_syn[i])}
            if shift_syn is not None:
                entry["shift"] = [int(v) for v in shift_syn[i]]
            flagged.append(entry)
        details = {**info, "method": p.method, "threshold": thr, "quantile": p.quantile, "features": p.features,
                   "n_flagged": int(flags.sum()), "flagged": flagged,
                   "real_to_train_min": float(d_real.min()), "synthetic_to_train_median": float(np.median(d_syn)),
                   "authpct_real": float(100.0 * auth_real.mean()),
                   "n_real": len(real), "n_synthetic": len(synthetic), "n_train": len(train)}
        if p.method == "ncc-shift":
            details["max_shift"] = p.max_shift
            details["mask"] = p.mask
        # both sets resampled: the threshold comes from the real set, the flags from the synthetic one
        boot = resampled(share, lambda i, j: memorization.memorization_share(d_syn[j], d_real[i], p.quantile)[0],
                          [len(d_real), len(d_syn)], ["real", "synthetic"], p.bootstrap, ctx)
        auth = auth_syn.astype(np.float64)
        auth_value = float(100.0 * auth.mean())
        auth_boot = resampled(auth_value, lambda i: float(100.0 * auth[i].mean()), [len(auth)], ["synthetic"],
                               p.bootstrap, ctx)
        return {"copies": MetricResult(share, details=details, higher_is_better=False, **boot),
                "authpct": MetricResult(auth_value, reference=float(100.0 * auth_real.mean()), details=details,
                                        higher_is_better=True, **auth_boot)}
