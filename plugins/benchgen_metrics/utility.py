"""`utility`: downstream utility — does adding synthetic scans help a classifier of condition?

A binary classifier (``positive`` vs ``negative``, e.g. ftd-like vs healthy) is trained three ways, on the
same budget (same hyper-parameters; for the CNN the same optimisation steps), and tested on the same
held-out real scans (the ``real`` argument: the suite's test split):

* ``trtr``: the real training set only (the ``train`` argument: the suite's training split);
* ``augmented``: the real training set + the synthetic set;
* ``tstr``: the synthetic set only.

The value is ΔAUC = AUC(augmented) − AUC(trtr) (higher is better; > 0: the synthetic scans help). Class
imbalance is handled by class weights (each class weighs half of every training set). Back-ends:

* ``classifier = "logistic"`` (CPU suites): standardised features — ``features = "anatomy"`` (regional
  CSF/GM/WM fractions of the brain mask, :mod:`benchgen_metrics.anatomy`, one tissue mixture fitted on the
  real training set) or a features plugin (``radiomics``) — and scikit-learn's L2 logistic regression
  (lbfgs, fixed ``c``): deterministic, so it is fitted once;
* ``classifier = "cnn"`` (GPU profiles): MONAI's ``Classifier`` (strided residual conv units) trained for
  ``steps`` Adam steps on ``n_seeds`` seeds.

CI: test subjects resampled from the shared real stream (:mod:`benchgen.functional.bootstrap`), the fitted
models held fixed; replicate b is ΔAUC on resample b averaged over the seeds, so rows pair across generators.

The synthetic set's labels must be generated: an unconditional generator (labels assigned by the runner,
``MetricContext.conditioning``) is `skipped`, and so is a set that lacks one of the two classes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy.stats import rankdata

from benchgen.conditions import condition_of, conditions_of
from benchgen.errors import DataError, MetricError
from benchgen.functional import bootstrap as bs
from benchgen.functional.msssim import torch_threads
from benchgen.hashing import fingerprint
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.volumes import Cohort
from benchgen_metrics import anatomy, cache, common
from benchgen_metrics.plugins import _boot_fields, _check_bootstrap, _digests, _extractor_or_skip

REGIMES = ("trtr", "augmented", "tstr")  # real only, real + synthetic, synthetic only
ROLES = ("train", "test", "synthetic")
MIN_PER_CLASS = 2  # scans of each class every set needs (an AUC from one scan per class says nothing)
_TRTR_MEMO: dict[tuple[Any, ...], np.ndarray] = {}  # real-only predictions: the same for every generator


def _label(value: str | None, key: str) -> str | None:
    """A condition param normalised like the metadata (``ftd`` -> ``ftd-like``); ValueError if unknown."""
    if value is None:
        return None
    try:
        return condition_of({"condition": value}, key)
    except DataError as exc:
        raise ValueError(exc.message) from None


# ------------------------------------------------------------------------------------------- scoring
def auc(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC (Mann–Whitney, ties count half) of each row of `scores` (``... × n``) for labels `y` (0/1);
    NaN when a class is missing."""
    pos, n_pos = y == 1, int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.full(scores.shape[:-1], np.nan)
    ranks = rankdata(scores, axis=-1)
    return (ranks[..., pos].sum(-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def balanced_accuracy(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean of sensitivity and specificity at probability 0.5, per row of `scores`."""
    hit = (scores >= 0.5) == (y == 1)
    return 0.5 * (hit[..., y == 1].mean(-1) + hit[..., y == 0].mean(-1))


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights giving each class half the total weight (scikit-learn's "balanced")."""
    counts = np.bincount(y, minlength=2)
    return len(y) / (2.0 * counts[y])


# ---------------------------------------------------------------------------------------- back-ends
def logistic_scores(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, c: float, max_iter: int) -> np.ndarray:
    """P(positive) of the test rows from a class-weighted L2 logistic regression (features already standardised)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter, class_weight="balanced")
    with warnings.catch_warnings():  # a separable small set stops at max_iter: the fit is still usable
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model.predict_proba(x_test)[:, 1]


@dataclass(frozen=True)
class CNNConfig:
    channels: tuple[int, ...]
    steps: int
    batch_size: int
    lr: float


def cnn_scores(x: torch.Tensor, y: np.ndarray, x_test: torch.Tensor, seed: int, cfg: CNNConfig,
               device: str) -> np.ndarray:
    """P(positive) of the test volumes from MONAI's ``Classifier`` trained for ``cfg.steps`` Adam steps on
    batches drawn with replacement (seeded), the loss weighted by :func:`class_weights`."""
    from monai.networks.nets import Classifier

    with torch.random.fork_rng(devices=[]):  # seed the weights without touching the caller's RNG
        torch.manual_seed(seed)
        net = Classifier(tuple(x.shape[1:]), 1, cfg.channels, (2,) * len(cfg.channels)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(seed)
    target = torch.as_tensor(y, dtype=torch.float32)
    weight = torch.as_tensor(class_weights(y), dtype=torch.float32)
    net.train()
    for _ in range(cfg.steps):
        idx = torch.as_tensor(rng.integers(0, len(y), size=min(cfg.batch_size, len(y))))
        logits = net(x[idx].to(device)).reshape(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[idx].to(device),
                                                                    weight=weight[idx].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        out = [torch.sigmoid(net(x_test[i:i + cfg.batch_size].to(device)).reshape(-1))
               for i in range(0, len(x_test), cfg.batch_size)]
    return torch.cat(out).cpu().numpy().astype(np.float64)


# -------------------------------------------------------------------------------------------- plugin
class Utility(Metric):
    """Downstream utility: ΔAUC of a condition classifier when synthetic scans are added to the real
    training set (see the module docstring)."""

    version = "1"
    higher_is_better = True
    needs_train = True
    stratifiable = False  # a score per condition would have one class only
    tiny_params = {"n_seeds": 1, "steps": 2, "bootstrap": 20}

    @dataclass(frozen=True)
    class Params:
        positive: str | None = None  # the class scored as positive; None = the one disease of the real sets
        negative: str = "healthy"
        classifier: Literal["logistic", "cnn"] = "logistic"
        features: str = "anatomy"  # logistic: "anatomy" (regional tissue fractions) or a features plugin
        weights: str | None = None  # the features plugin's weights (MedicalNet)
        c: float = 1.0  # logistic: inverse L2 strength (scikit-learn's C)
        max_iter: int = 1000  # logistic: lbfgs iterations
        n_seeds: int = 5  # cnn: classifier seeds (the logistic fit is deterministic: one fit)
        steps: int = 300  # cnn: Adam steps, the same for all three training sets
        batch_size: int = 8  # cnn
        lr: float = 1e-3  # cnn
        channels: tuple[int, ...] = (8, 16, 32)  # cnn: widths of the Classifier's stride-2 residual units
        num_threads: int | None = None  # cnn: torch CPU threads while training (None = torch's default)
        bootstrap: int = 200

        def __post_init__(self) -> None:
            _check_bootstrap(self.bootstrap)
            pos, neg = _label(self.positive, "positive"), _label(self.negative, "negative")
            if pos == neg:
                raise ValueError(f"positive and negative are the same class '{neg}'")
            if self.c <= 0 or self.max_iter < 1:
                raise ValueError(f"c must be > 0 and max_iter >= 1, got c={self.c}, max_iter={self.max_iter}")
            if min(self.n_seeds, self.steps, self.batch_size) < 1 or self.lr <= 0:
                raise ValueError("n_seeds, steps and batch_size must be >= 1 and lr > 0")
            if self.num_threads is not None and self.num_threads < 1:
                raise ValueError(f"num_threads must be >= 1 (or unset), got {self.num_threads}")
            if not self.channels or min(self.channels) < 1:
                raise ValueError(f"channels must be a non-empty list of widths >= 1, got {list(self.channels)}")

    def seeds(self, ctx: MetricContext) -> list[int]:
        n = self.params.n_seeds if self.params.classifier == "cnn" else 1
        return [1000 * ctx.seed + k for k in range(n)]

    def score(self, synthetic: Cohort, real: Cohort, train: Cohort | None, ctx: MetricContext) -> MetricResult:
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
        train_key = fingerprint(_digests(train))  # the training split's content: the same for every generator
        # the real-only fit depends on which rows are in the task and on their labels, not only on the volumes
        fit_key = fingerprint([train_key, rows["train"].tolist(), y["train"].tolist()])
        inputs = self._inputs(sets, rows, train_key, ctx)
        if isinstance(inputs, MetricResult):
            return inputs
        x, info = inputs
        seeds = self.seeds(ctx)
        # regimes × seeds × test subjects
        probs = np.stack([self._probabilities(x, y, seeds, ctx, r, fit_key) for r in REGIMES])
        details = {"positive": pos, "negative": neg, "seeds": seeds, **info,
                   "counts": {r: {pos: int(y[r].sum()), neg: int((1 - y[r]).sum())} for r in ROLES},
                   "left_out": {r: len(sets[r]) - len(rows[r]) for r in ROLES}}
        return self._result(probs, y["test"], details, ctx)

    def _skip(self, reason: str) -> MetricResult:
        return MetricResult(None, status="skipped", message=f"{self.name}: {reason}", higher_is_better=True)

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

    # ------------------------------------------------------------------------------------- inputs
    def _inputs(self, sets: dict[str, Cohort], rows: dict[str, np.ndarray], train_key: str, ctx: MetricContext
                ) -> tuple[dict[str, Any], dict[str, Any]] | MetricResult:
        """What each back-end trains on, per set (the task's rows only), and what to record about it."""
        p = self.params
        if p.classifier == "cnn":
            info = {"classifier": {"backend": "cnn", "network": "monai.networks.nets.Classifier",
                                   "channels": list(p.channels), "steps": p.steps, "batch_size": p.batch_size,
                                   "lr": p.lr, "optimizer": "Adam", "loss": "class-weighted BCE"}}
            return {r: sets[r].data[torch.as_tensor(rows[r])] for r in ROLES}, info
        feats = self._features(sets, train_key, ctx)
        if isinstance(feats, MetricResult):
            return feats
        x, info = feats
        info["classifier"] = {"backend": "logistic", "model": "LogisticRegression", "c": p.c, "solver": "lbfgs",
                              "max_iter": p.max_iter, "class_weight": "balanced",
                              "zscore": "every set by the real training set's mean and sd"}
        task = {r: x[r][rows[r]] for r in ROLES}
        # one standardisation (the real training set's) for all three regimes, so the three classifiers see the
        # same features on the same scale: a scaler per training set would re-weigh them by the synthetic spread
        task["train"], task["test"], task["synthetic"] = common.zscore_against_real(task["train"], task["test"],
                                                                                    task["synthetic"])
        return task, info

    def _features(self, sets: dict[str, Cohort], train_key: str, ctx: MetricContext
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | MetricResult:
        p = self.params
        if p.features == "anatomy":
            return anatomy_fractions(sets), {"features": "anatomy",
                                             "features_note": "tissue/region volumes / brain mask; mixture "
                                                              "fitted on the real training set"}
        ext = _extractor_or_skip(self.name, p.features, p.weights)
        if isinstance(ext, MetricResult):
            return ext
        f_test, f_syn, info = common.real_and_synthetic_features(self.name, ext, sets["synthetic"], sets["test"], ctx)
        train_fp = fingerprint([ctx.real_fingerprint, "utility-train", train_key]) if ctx.real_fingerprint else None
        f_train = cache.cached(ext, ctx.cache_dir, train_fp, len(sets["train"]),
                               lambda: ext.extract(sets["train"].data, ctx.device))[0]
        return {"train": f_train, "test": f_test, "synthetic": f_syn}, info

    # ------------------------------------------------------------------------------------- fitting
    def _fit_predict(self, x: Any, y: np.ndarray, x_test: Any, seed: int, device: str) -> np.ndarray:
        p = self.params
        if p.classifier == "logistic":
            return logistic_scores(x, y, x_test, p.c, p.max_iter)
        with torch_threads(p.num_threads):  # tiny networks on a busy CPU: extra threads only wait
            return cnn_scores(x, y, x_test, seed, CNNConfig(tuple(p.channels), p.steps, p.batch_size, p.lr), device)

    def _probabilities(self, x: dict[str, Any], y: dict[str, np.ndarray], seeds: list[int], ctx: MetricContext,
                       regime: str, fit_key: str) -> np.ndarray:
        """``seeds × test`` P(positive) of the classifiers trained on `regime`'s training set; `fit_key`: the
        real training set's content, rows and labels (the real-only memo's key)."""
        key = (ctx.real_fingerprint, self.fingerprint(), fit_key, tuple(seeds), str(ctx.device))
        if regime == "trtr" and ctx.real_fingerprint and key in _TRTR_MEMO:
            return _TRTR_MEMO[key]
        xs, ys = {"trtr": ([x["train"]], [y["train"]]), "tstr": ([x["synthetic"]], [y["synthetic"]]),
                  "augmented": ([x["train"], x["synthetic"]], [y["train"], y["synthetic"]])}[regime]
        join = torch.cat if isinstance(xs[0], torch.Tensor) else np.concatenate
        out = []
        for k, seed in enumerate(seeds):
            out.append(self._fit_predict(join(xs), np.concatenate(ys), x["test"], seed, ctx.device))
            ctx.progress(f"{self.name}: {regime} classifiers", k + 1, len(seeds))
        probs = np.stack(out)
        if regime == "trtr" and ctx.real_fingerprint:
            _TRTR_MEMO[key] = probs
        return probs

    # ------------------------------------------------------------------------------------- result
    def _result(self, probs: np.ndarray, y: np.ndarray, details: dict[str, Any], ctx: MetricContext) -> MetricResult:
        """ΔAUC with its paired CI; AUC (with CI) and balanced accuracy of each regime in details."""
        aucs = auc(probs, y)  # regimes × seeds
        value = float(aucs[1].mean() - aucs[0].mean())
        per_regime: list[np.ndarray] = []

        def stat(i: np.ndarray) -> float:
            a = np.nanmean(auc(probs[..., i], y[i]), axis=-1) if len(set(y[i])) == 2 else np.full(3, np.nan)
            per_regime.append(a)
            return float(a[1] - a[0])

        boot: dict[str, Any] = {"ci": None}
        if self.params.bootstrap:
            reps = bs.bootstrap_replicates(stat, [len(y)], self.params.bootstrap, ctx.seed, ["real"])
            boot = _boot_fields(value, reps, "percentile", (-1.0, 1.0))
        acc = balanced_accuracy(probs, y)
        for k, regime in enumerate(REGIMES):
            details[regime] = {"auc": float(aucs[k].mean()), "balanced_accuracy": float(acc[k].mean()),
                               "auc_per_seed": aucs[k].tolist(),
                               "auc_ci": bs.percentile_ci(np.array([a[k] for a in per_regime])) if per_regime else None}
        details.update(n_test=len(y), budget="same hyper-parameters (and steps) for all three; class weights "
                                             "balance the classes")
        return MetricResult(value, details=details, higher_is_better=True, **boot)


def anatomy_fractions(sets: dict[str, Cohort]) -> dict[str, np.ndarray]:
    """Per set: every tissue/region volume as a fraction of the brain mask (``N × 45``), one tissue mixture
    fitted on the real training set for all (a per-set fit would move the class boundaries between sets)."""
    p = anatomy.Anatomy.Params()
    model = anatomy.pooled_mixture(sets["train"], p.mask_threshold, p.max_fit_voxels)
    out = {}
    for role, c in sets.items():
        vols, mask_ml = anatomy.tissue_volumes(c, p.mask_threshold, p.max_fit_voxels, model, p.fractions)
        out[role] = vols.reshape(len(c), -1) / np.maximum(mask_ml, 1e-9)[:, None]
    return out
