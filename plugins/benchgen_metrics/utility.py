"""`utility`: downstream utility — does adding synthetic scans help a classifier of condition?

A binary classifier (``positive`` vs ``negative``, e.g. ftd-like vs healthy) is trained three ways, with the
same hyper-parameters (for the CNN the same optimisation steps), and tested on the same held-out real scans
(the ``real`` argument: the suite's test split):

* ``trtr``: the real training set only (the ``train`` argument: the suite's training split);
* ``augmented``: the real training set + synthetic scans;
* ``tstr``: the synthetic scans only.

The value is ΔAUC = AUC(augmented) − AUC(trtr) (higher is better; > 0: the synthetic scans help), at each
synthetic:real ratio of ``ratios`` (``round(ratio × n)`` synthetic scans of each class with n real ones, a fixed
seeded subset); the board's value is at ``ratio``, details keep all. Weights: within every source each class
weighs half; a synthetic scan weighs ``synthetic_weight`` times a real one, so at ratio r the synthetic source
has ``w·r / (1 + w·r)`` of the augmented fit's weight (recorded).

Classifiers (``classifier``: one name, or a list — then one column per name, ``utility.<name>``): ``logistic``
(L2), ``svm`` (linear), ``gboost`` (scikit-learn's gradient boosting, few shallow trees, √p features per split) on
standardised features, and ``cnn`` (MONAI's ``Classifier`` on voxels). Features (``features``):
``parcels+grid`` (default) — CSF/GM/WM volumes in k-means parcels of the MNI template and grey matter in 20 mm
cubes (:mod:`benchgen_metrics.parcels`), as fractions of the brain mask, from one tissue mixture fitted on the
real training set — or ``parcels``, ``grid``, ``phantom-regions`` (the ``anatomy`` rules that follow the
phantom's disease regions: a ceiling, never the default) or a features plugin (``radiomics``).

CI (hierarchical bootstrap): ``refits`` refits, each on a class-stratified resample of the real training set
(from a stream every generator shares) and of the synthetic scans (the cell's seed), all three regimes refitted;
replicate b uses refit ``b mod refits`` and resamples the test subjects from the shared real stream. Replicates
pair across generators (same real resamples, the same memoised real-only refits). The CNN refits ``n_seeds``
times, each with its own seed and resample, at the board's ratio only.

The synthetic set's labels must be generated: an unconditional generator (labels assigned by the runner,
``MetricContext.conditioning``) is `skipped`, and so is a set that lacks one of the two classes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from benchgen.conditions import condition_of, conditions_of
from benchgen.errors import DataError, MetricError
from benchgen.functional import bootstrap as bs
from benchgen.functional.msssim import torch_threads
from benchgen.hashing import fingerprint
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.volumes import Cohort
from benchgen_metrics import anatomy, cache, common, parcels
from benchgen_metrics.classifiers import (
    CNNConfig,
    SklearnConfig,
    auc,
    balanced_accuracy,
    cnn_scores,
    sklearn_scores,
    source_weights,
)
from benchgen_metrics.resampling import boot_fields, check_bootstrap

REGIMES = ("trtr", "augmented", "tstr")  # real only, real + synthetic, synthetic only
ROLES = ("train", "test", "synthetic")
CLASSIFIERS = ("logistic", "svm", "gboost", "cnn")
REGION_FEATURES = ("parcels+grid", "parcels", "grid", "phantom-regions")
MIN_PER_CLASS = 2  # scans of each class every set needs (an AUC from one scan per class says nothing)
TRAIN_STREAM = bs.REAL_SEED + 1  # the real training set's resamples: shared by every generator, like the test's
_TRTR_MEMO: dict[str, np.ndarray] = {}  # real-only predictions, keyed by what they were fitted on
_MEMO_MAX = 20_000


def _label(value: str | None, key: str) -> str | None:
    """A condition param normalised like the metadata (``ftd`` -> ``ftd-like``); ValueError if unknown."""
    if value is None:
        return None
    try:
        return condition_of({"condition": value}, key)
    except DataError as exc:
        raise ValueError(exc.message) from None


# -------------------------------------------------------------------------------------------- plugin
@dataclass(frozen=True)
class Prepared:
    """What the classifiers train and test on (the task's rows of every set) and their labels."""

    features: dict[str, np.ndarray] | None  # standardised features per role (sklearn classifiers)
    voxels: dict[str, torch.Tensor] | None  # volumes per role (the CNN)
    y: dict[str, np.ndarray]


class Utility(Metric):
    """Downstream utility: ΔAUC of a condition classifier when synthetic scans are added to the real
    training set (see the module docstring)."""

    version = "2"  # 2: template parcels by default, several classifiers and ratios, refits in the bootstrap
    kind = "utility"
    higher_is_better = True
    needs_train = True
    stratifiable = False  # a score per condition would have one class only
    tiny_params = {"n_seeds": 1, "steps": 2, "bootstrap": 20, "refits": 4, "ratios": [1.0]}

    @dataclass(frozen=True)
    class Params:
        positive: str | None = None  # the class scored as positive; None = the one disease of the real sets
        negative: str = "healthy"
        classifier: str | tuple[str, ...] = "logistic"  # one of CLASSIFIERS, or a list: a column each
        features: str = "parcels+grid"  # REGION_FEATURES or a features plugin (not for the CNN: voxels)
        weights: str | None = None  # the features plugin's weights (MedicalNet)
        ratios: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)  # synthetic:real scans per class, all in details
        ratio: float = 1.0  # the ratio of the board's value (one of ratios)
        synthetic_weight: float = 1.0  # weight of a synthetic scan relative to a real one in the augmented fit
        c: float = 1.0  # logistic, svm: inverse L2 strength (scikit-learn's C)
        max_iter: int = 1000  # logistic (lbfgs), svm iterations
        trees: int = 20  # gboost: boosting iterations
        depth: int = 2  # gboost: tree depth
        n_seeds: int = 5  # cnn: classifier seeds (also its refits in the bootstrap)
        steps: int = 300  # cnn: Adam steps, the same for all three training sets
        batch_size: int = 8  # cnn
        lr: float = 1e-3  # cnn
        channels: tuple[int, ...] = (8, 16, 32)  # cnn: widths of the Classifier's stride-2 residual units
        num_threads: int | None = None  # cnn: torch CPU threads while training (None = torch's default)
        refits: int = 50  # scikit-learn classifiers: refits on resampled training and synthetic sets
        bootstrap: int = 200

        def __post_init__(self) -> None:
            check_bootstrap(self.bootstrap)
            pos, neg = _label(self.positive, "positive"), _label(self.negative, "negative")
            if pos == neg:
                raise ValueError(f"positive and negative are the same class '{neg}'")
            names = [self.classifier] if isinstance(self.classifier, str) else list(self.classifier)
            unknown = [n for n in names if n not in CLASSIFIERS]
            if not names or unknown or len(set(names)) != len(names):
                raise ValueError(f"classifier must be one of {', '.join(CLASSIFIERS)} or a list of them without "
                                 f"repeats, got {self.classifier!r}")
            if not self.ratios or min(self.ratios) <= 0 or len(set(self.ratios)) != len(self.ratios):
                raise ValueError(f"ratios must be distinct numbers > 0, got {list(self.ratios)}")
            if self.ratio not in self.ratios:
                raise ValueError(f"ratio {self.ratio} must be one of ratios {list(self.ratios)}")
            if self.synthetic_weight <= 0:
                raise ValueError(f"synthetic_weight must be > 0, got {self.synthetic_weight}")
            if self.c <= 0 or self.max_iter < 1:
                raise ValueError(f"c must be > 0 and max_iter >= 1, got c={self.c}, max_iter={self.max_iter}")
            if min(self.trees, self.depth, self.refits) < 1:
                raise ValueError("trees, depth and refits must be >= 1")
            if min(self.n_seeds, self.steps, self.batch_size) < 1 or self.lr <= 0:
                raise ValueError("n_seeds, steps and batch_size must be >= 1 and lr > 0")
            if self.num_threads is not None and self.num_threads < 1:
                raise ValueError(f"num_threads must be >= 1 (or unset), got {self.num_threads}")
            if not self.channels or min(self.channels) < 1:
                raise ValueError(f"channels must be a non-empty list of widths >= 1, got {list(self.channels)}")
            if self.features == "anatomy":
                raise ValueError('features "anatomy" is now "phantom-regions" (the regions the phantom\'s disease '
                                 'was planted in: a ceiling); the default "parcels+grid" does not follow them')

    def classifiers(self) -> list[str]:
        c = self.params.classifier
        return [c] if isinstance(c, str) else list(c)

    def seeds(self, ctx: MetricContext, name: str = "logistic") -> list[int]:
        n = self.params.n_seeds if name == "cnn" else 1
        return [1000 * ctx.seed + k for k in range(n)]

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None, ctx: MetricContext
              ) -> MetricResult | dict[str, MetricResult]:
        if train is None:
            raise MetricError(f"{self.name}: needs the training set (benchgen evaluate --train FOLDER)")
        common.check_cohorts(self.name, synthetic=synthetic, real=real, train=train)
        if ctx.conditioning == "unconditional":
            return self._skip("unconditional generator: its labels are assigned, not generated")
        sets = {"train": train, "test": real, "synthetic": synthetic}
        task = self._task(sets)
        if isinstance(task, str):
            return self._skip(task)
        pos, neg, rows, y = task
        subsets = self._ratio_rows(y, ctx)
        if isinstance(subsets[self.params.ratio], str):
            return self._skip(str(subsets[self.params.ratio]))
        train_key = fingerprint(common.digests(train))  # the training split's content: the same for every generator
        prepared = self._inputs(sets, rows, y, train_key, ctx)
        if isinstance(prepared, MetricResult):  # a features plugin without its weights
            return self._skip(str(prepared.message).removeprefix(f"{self.name}: "))
        data, info = prepared
        base = {"positive": pos, "negative": neg, **info,
                "counts": {r: {pos: int(y[r].sum()), neg: int((1 - y[r]).sum())} for r in ROLES},
                "left_out": {r: len(sets[r]) - len(rows[r]) for r in ROLES},
                "ratio": self.params.ratio, "synthetic_weight": self.params.synthetic_weight}
        with bs.single_threaded_blas():  # many small fits: BLAS/OpenMP threads only wait on each other
            out = {name: self._classifier_result(name, data, subsets, base, ctx) for name in self.classifiers()}
        return out[self.params.classifier] if isinstance(self.params.classifier, str) else out

    def _skip(self, reason: str) -> Any:
        """The skip line: one result, or one per classifier when the columns are per classifier."""
        def one() -> MetricResult:
            return MetricResult(None, status="skipped", message=f"{self.name}: {reason}", higher_is_better=True)

        return one() if isinstance(self.params.classifier, str) else {n: one() for n in self.classifiers()}

    # ------------------------------------------------------------------------------------- labels
    def _task(self, sets: dict[str, Cohort]) -> tuple[str, str, dict[str, np.ndarray], dict[str, np.ndarray]] | str:
        """(positive, negative, the rows of each set in the task, their 0/1 labels), or why not (one line)."""
        found = {}
        for role, c in sets.items():
            try:
                found[role] = conditions_of(c.subject_ids, c.metadata)
            except DataError as exc:
                raise MetricError(f"{self.name}: the {role} set: {exc.message}", exc.hint) from None
            if all(g is None for g in found[role]):
                return f"the {role} set has no condition metadata (condition or diagnosis)"
        neg = str(_label(self.params.negative, "negative"))
        pos = _label(self.params.positive, "positive")
        if pos is None:
            diseases = sorted({str(g) for role in ("train", "test") for g in found[role] if g is not None} - {neg})
            if len(diseases) != 1:
                raise MetricError(f"{self.name}: the real sets have {len(diseases)} classes besides '{neg}' "
                                  f"({', '.join(diseases) or 'none'}); set params.positive to one of them")
            pos = diseases[0]
        rows = {r: np.array([i for i, g in enumerate(found[r]) if g in (pos, neg)], dtype=np.int64) for r in ROLES}
        y = {r: np.array([int(found[r][i] == pos) for i in rows[r]], dtype=np.int64) for r in ROLES}
        for role in ROLES:
            for cls, n in ((pos, int(y[role].sum())), (neg, int((1 - y[role]).sum()))):
                if n < MIN_PER_CLASS:
                    return f"the {role} set has {n} '{cls}' scan(s); both classes need at least {MIN_PER_CLASS}"
        return pos, neg, rows, y

    def _ratio_rows(self, y: dict[str, np.ndarray], ctx: MetricContext) -> dict[float, np.ndarray | str]:
        """Per ratio: the synthetic task rows it uses (``round(ratio × n)`` of each class with n real training
        scans of it, the first of a seeded order, so a smaller ratio's scans are in every larger one's), or why
        the synthetic set is too small for it (one line)."""
        order = np.random.default_rng([ctx.seed, 17]).permutation(len(y["synthetic"]))
        out: dict[float, np.ndarray | str] = {}
        for ratio in self.params.ratios:
            picked, short = [], None
            for cls in (0, 1):
                need = max(MIN_PER_CLASS, int(round(ratio * int((y["train"] == cls).sum()))))
                have = order[y["synthetic"][order] == cls]
                if len(have) < need:
                    short = (f"ratio {ratio:g} needs {need} synthetic scans of each class, the synthetic set has "
                             f"{len(have)} of one (raise n_samples or lower params.ratio)")
                picked.append(have[:need])
            out[ratio] = short if short else np.sort(np.concatenate(picked))
        return out

    # ------------------------------------------------------------------------------------- inputs
    def _inputs(self, sets: dict[str, Cohort], rows: dict[str, np.ndarray], y: dict[str, np.ndarray],
                train_key: str, ctx: MetricContext) -> tuple[Prepared, dict[str, Any]] | MetricResult:
        """What the classifiers train on, per set (the task's rows only), and what to record about it."""
        info: dict[str, Any] = {}
        feats = vox = None
        if any(n != "cnn" for n in self.classifiers()):
            found = self._features(sets, train_key, ctx)
            if isinstance(found, MetricResult):
                return found
            x, info = found
            task = {r: x[r][rows[r]] for r in ROLES}
            keep = task["train"].std(axis=0) > 1e-12  # regions no real training scan has tissue in
            info["n_features"] = int(keep.sum())
            # one standardisation (the real training set's) for all three regimes and every refit, so the
            # classifiers see the same features on the same scale
            z = common.zscore_against_real(*(task[r][:, keep] for r in ROLES))
            feats = dict(zip(ROLES, z))
        if "cnn" in self.classifiers():
            vox = {r: sets[r].data[torch.as_tensor(rows[r])] for r in ROLES}
        return Prepared(feats, vox, y), info

    def _features(self, sets: dict[str, Cohort], train_key: str, ctx: MetricContext
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | MetricResult:
        p = self.params
        if p.features in REGION_FEATURES:
            note = ("tissue volumes / brain mask; one tissue mixture fitted on the real training set" +
                    ("; the regions follow the phantom's disease regions: a ceiling" if p.features == "phantom-regions"
                     else ""))
            extra = {} if p.features == "phantom-regions" else {"regions": parcels.describe()}
            return region_fractions(sets, p.features), {"features": p.features, "features_note": note, **extra}
        # not z-scored here: _inputs standardises all three sets by the real training set
        found = common.feature_sets(self.name, p.features, p.weights, "none", sets["synthetic"], sets["test"], ctx)
        if isinstance(found, MetricResult):
            return found
        ext = found.extractor
        train_fp = fingerprint([ctx.real_fingerprint, "utility-train", train_key]) if ctx.real_fingerprint else None
        f_train = cache.cached(ext, ctx.cache_dir, train_fp, len(sets["train"]),
                               lambda: ext.extract(sets["train"].data, ctx.device))[0]
        return {"train": f_train, "test": found.real, "synthetic": found.synthetic}, found.info

    # ------------------------------------------------------------------------------------- fitting
    def _describe(self, name: str) -> dict[str, Any]:
        p = self.params
        if name == "cnn":
            return {"backend": "cnn", "network": "monai.networks.nets.Classifier", "channels": list(p.channels),
                    "steps": p.steps, "batch_size": p.batch_size, "lr": p.lr, "optimizer": "Adam",
                    "loss": "weighted BCE (source and class weights)"}
        model = {"logistic": {"model": "LogisticRegression", "c": p.c, "solver": "lbfgs", "max_iter": p.max_iter},
                 "svm": {"model": "LinearSVC", "c": p.c, "max_iter": p.max_iter,
                         "score": "logistic function of the decision value"},
                 "gboost": {"model": "GradientBoostingClassifier", "trees": p.trees, "depth": p.depth,
                            "learning_rate": 0.1, "max_features": "sqrt"}}[name]
        return {"backend": name, **model, "weights": "classes balanced within each source",
                "zscore": "every set by the real training set's mean and sd"}

    def _fit(self, name: str, data: Prepared, train_idx: np.ndarray | None, syn_idx: np.ndarray | None,
             seed: int, ctx: MetricContext) -> np.ndarray:
        """P(positive) of the test rows from `name` fitted on the real training rows `train_idx` and the
        synthetic rows `syn_idx` (None: that source is not used). Real-only fits are memoised under the
        exact inputs (features, labels, weights, test rows), so every generator reuses them."""
        p = self.params
        x: dict[str, Any] | None = data.voxels if name == "cnn" else data.features
        assert x is not None
        parts = [(x["train"][train_idx], data.y["train"][train_idx], 0)] if train_idx is not None else []
        if syn_idx is not None:
            parts.append((x["synthetic"][syn_idx], data.y["synthetic"][syn_idx], 1))
        join: Callable[..., Any] = torch.cat if name == "cnn" else np.concatenate
        xs, ys = join([a for a, _, _ in parts]), np.concatenate([b for _, b, _ in parts])
        w = source_weights(ys, np.concatenate([np.full(len(b), s) for _, b, s in parts]), p.synthetic_weight)
        key = None
        if syn_idx is None:
            h = hashlib.blake2b(digest_size=16)
            for arr in (xs, ys, w, x["test"]):
                h.update(np.ascontiguousarray(arr.numpy() if isinstance(arr, torch.Tensor) else arr).tobytes())
            key = fingerprint([self.fingerprint(), name, seed, str(ctx.device), h.hexdigest()])
            if key in _TRTR_MEMO:
                return _TRTR_MEMO[key]
        if name == "cnn":
            with torch_threads(p.num_threads):  # tiny networks on a busy CPU: extra threads only wait
                out = cnn_scores(xs, ys, w, x["test"], seed, CNNConfig(tuple(p.channels), p.steps, p.batch_size,
                                                                       p.lr), ctx.device)
        else:
            out = sklearn_scores(name, xs, ys, w, x["test"], seed, SklearnConfig(p.c, p.max_iter, p.trees, p.depth))
        if key is not None:
            if len(_TRTR_MEMO) >= _MEMO_MAX:
                _TRTR_MEMO.clear()
            _TRTR_MEMO[key] = out
        return out

    def _regime_probs(self, name: str, data: Prepared, train_idx: np.ndarray, syn_idx: np.ndarray, seed: int,
                      ctx: MetricContext) -> np.ndarray:
        """``3 × test`` P(positive) of the real-only, augmented and synthetic-only classifiers."""
        return np.stack([self._fit(name, data, train_idx, None, seed, ctx),
                         self._fit(name, data, train_idx, syn_idx, seed, ctx),
                         self._fit(name, data, None, syn_idx, seed, ctx)])

    # ------------------------------------------------------------------------------------- result
    def _classifier_result(self, name: str, data: Prepared, subsets: dict[float, np.ndarray | str],
                           base: dict[str, Any], ctx: MetricContext) -> MetricResult:
        """ΔAUC of classifier `name` at every ratio (the board's is the value), with hierarchical bootstrap
        replicates: refits on resampled training and synthetic sets, then test subjects resampled."""
        p = self.params
        y_test, y_train = data.y["test"], data.y["train"]
        seeds = self.seeds(ctx, name)
        ratios = [p.ratio] if name == "cnn" else [r for r in p.ratios if not isinstance(subsets[r], str)]
        all_train = np.arange(len(y_train))
        # point estimates: regimes × seeds × test, per ratio
        point = {}
        for r in ratios:
            point[r] = np.stack([self._regime_probs(name, data, all_train, np.asarray(subsets[r]), s, ctx)
                                 for s in seeds], axis=1)
            ctx.progress(f"{self.name}.{name}: fits", ratios.index(r) + 1, len(ratios))
        n_refits = len(seeds) if name == "cnn" else min(p.refits, max(p.bootstrap, 1))
        refit_probs: dict[float, list[np.ndarray]] = {r: [] for r in ratios}  # ratio -> refits of 3 × test
        if p.bootstrap:
            for j in range(n_refits):
                train_j = stratified_resample(y_train, all_train, np.random.default_rng([TRAIN_STREAM, j]))
                rng = np.random.default_rng([ctx.seed, 29, j])
                seed = seeds[j % len(seeds)]
                for r in ratios:
                    syn_rows = np.asarray(subsets[r])
                    syn_j = stratified_resample(data.y["synthetic"][syn_rows], syn_rows, rng)
                    refit_probs[r].append(self._regime_probs(name, data, train_j, syn_j, seed, ctx))
                ctx.progress(f"{self.name}.{name}: bootstrap refits", j + 1, n_refits)
        per_ratio: dict[str, Any] = {}
        board: MetricResult | None = None
        for r in ratios:
            aucs = auc(point[r], y_test)  # regimes × seeds
            value = float(aucs[1].mean() - aucs[0].mean())
            reps: list[np.ndarray] = []  # per replicate: AUC of the three regimes

            def stat(i: np.ndarray, r: float = r, reps: list[np.ndarray] = reps) -> float:
                probs = refit_probs[r][len(reps) % n_refits]
                a = auc(probs[:, i], y_test[i]) if len(set(y_test[i])) == 2 else np.full(3, np.nan)
                reps.append(a)
                return float(a[1] - a[0])

            boot: dict[str, Any] = {"ci": None}
            if p.bootstrap:
                boot = boot_fields(value, bs.bootstrap_replicates(stat, [len(y_test)], p.bootstrap, ctx.seed,
                                                                   ["real"]), "percentile", (-1.0, 1.0))
            acc = balanced_accuracy(point[r], y_test)
            regimes = {reg: {"auc": float(aucs[k].mean()), "balanced_accuracy": float(acc[k].mean()),
                             "auc_per_seed": aucs[k].tolist(),
                             "auc_ci": bs.percentile_ci(np.array([a[k] for a in reps])) if reps else None}
                       for k, reg in enumerate(REGIMES)}
            n_syn = np.bincount(data.y["synthetic"][np.asarray(subsets[r])], minlength=2)
            share = p.synthetic_weight * r / (1.0 + p.synthetic_weight * r)
            per_ratio[f"{r:g}"] = {"delta_auc": value, "ci": boot["ci"], "augmented_auc": regimes["augmented"]["auc"],
                                   "tstr_auc": regimes["tstr"]["auc"], "trtr_auc": regimes["trtr"]["auc"],
                                   "n_synthetic": {base["negative"]: int(n_syn[0]), base["positive"]: int(n_syn[1])},
                                   "synthetic_share": share}
            if r == p.ratio:
                details = {**base, "classifier": self._describe(name), "seeds": seeds, **regimes,
                           "synthetic_share": share, "refits": n_refits if p.bootstrap else 0,
                           "n_test": len(y_test),
                           "budget": "same hyper-parameters (and steps) for all three; classes balanced within each "
                                     "source"}
                board = MetricResult(value, details=details, higher_is_better=True, **boot)
        for r in p.ratios:
            if r not in ratios:
                per_ratio[f"{r:g}"] = {"skipped": subsets[r] if isinstance(subsets[r], str)
                                       else "the CNN is fitted at the board's ratio only"}
        assert board is not None
        board.details["ratios"] = per_ratio
        return board


def stratified_resample(y: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`rows` resampled with replacement within each class of `y` (the labels of `rows`): both classes keep
    their counts, so every refit has both."""
    out = [rng.choice(rows[y == cls], size=int((y == cls).sum()), replace=True) for cls in (0, 1)]
    return np.sort(np.concatenate(out))


def region_fractions(sets: dict[str, Cohort], features: str) -> dict[str, np.ndarray]:
    """Per set: regional tissue volumes as fractions of the brain mask, one tissue mixture fitted on the real
    training set for all (a per-set fit would move the class boundaries between sets). ``parcels``: CSF/GM/WM
    in every template parcel and the whole brain; ``grid``: grey matter in every grid cube; ``parcels+grid``:
    both; ``phantom-regions``: CSF/GM/WM in :data:`anatomy.REGIONS` and the whole brain."""
    p = anatomy.Anatomy.Params()
    model = anatomy.pooled_mixture(sets["train"], p.mask_threshold, p.max_fit_voxels)
    out = {}
    for role, c in sets.items():
        regions = [] if features == "grid" else [anatomy.scheme_weights(
            c, "phantom-regions" if features == "phantom-regions" else "parcels")]
        if regions:
            regions.append(np.ones((1, regions[0].shape[1]), dtype=np.float32))  # the whole brain
        grid = [parcels.weights("grid", c.shape, c.affine)] if "grid" in features else []
        vols, mask_ml = anatomy.regional_volumes(c, p.mask_threshold, p.max_fit_voxels, model, p.fractions,
                                                 regions + grid)
        parts = [v.reshape(len(c), -1) for v in vols[:len(regions)]] + [v[:, :, 1] for v in vols[len(regions):]]
        out[role] = np.concatenate(parts, axis=1) / np.maximum(mask_ml, 1e-9)[:, None]
    return out
