"""The classifiers of the metric ``utility`` and how they are scored: scikit-learn models on features, MONAI's
``Classifier`` on voxels, per-sample weights that balance classes and sources, AUC and balanced accuracy."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import rankdata


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
def source_weights(y: np.ndarray, source: np.ndarray, synthetic_weight: float) -> np.ndarray:
    """Per-sample weights: within each source (0 real, 1 synthetic) each class weighs half of the source;
    a synthetic scan weighs `synthetic_weight` times a real one on average; the mean weight of a real scan is 1."""
    w = np.zeros(len(y))
    for s, scale in ((0, 1.0), (1, synthetic_weight)):
        rows = source == s
        if rows.any():
            w[rows] = scale * class_weights(y[rows])
    return w


@dataclass(frozen=True)
class SklearnConfig:
    c: float
    max_iter: int
    trees: int
    depth: int


def sklearn_scores(name: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, x_test: np.ndarray, seed: int,
                   cfg: SklearnConfig) -> np.ndarray:
    """Scores of the test rows in [0, 1] (0.5 = the decision boundary) from a scikit-learn classifier fitted
    with sample weights `w` (features already standardised): P(positive) for ``logistic`` and ``gboost``, the
    logistic function of the decision value for ``svm``."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():  # a separable small set stops at max_iter: the fit is still usable
        warnings.simplefilter("ignore", ConvergenceWarning)
        if name == "logistic":
            model = LogisticRegression(C=cfg.c, solver="lbfgs", max_iter=cfg.max_iter).fit(x, y, sample_weight=w)
            return model.predict_proba(x_test)[:, 1]
        if name == "svm":
            svm = LinearSVC(C=cfg.c, max_iter=cfg.max_iter, dual="auto").fit(x, y, sample_weight=w)
            return 1.0 / (1.0 + np.exp(-svm.decision_function(x_test)))
        # √p features per split: 5-7× cheaper than all of them on a few hundred features (and a seeded draw)
        gb = GradientBoostingClassifier(n_estimators=cfg.trees, max_depth=cfg.depth, learning_rate=0.1,
                                        max_features="sqrt", random_state=seed).fit(x, y, sample_weight=w)
        return gb.predict_proba(x_test)[:, 1]


@dataclass(frozen=True)
class CNNConfig:
    channels: tuple[int, ...]
    steps: int
    batch_size: int
    lr: float


def cnn_scores(x: torch.Tensor, y: np.ndarray, w: np.ndarray, x_test: torch.Tensor, seed: int, cfg: CNNConfig,
               device: str) -> np.ndarray:
    """P(positive) of the test volumes from MONAI's ``Classifier`` trained for ``cfg.steps`` Adam steps on
    batches drawn with replacement (seeded), the loss weighted by the sample weights `w`."""
    from monai.networks.nets import Classifier

    with torch.random.fork_rng(devices=[]):  # seed the weights without touching the caller's RNG
        torch.manual_seed(seed)
        net = Classifier(tuple(x.shape[1:]), 1, cfg.channels, (2,) * len(cfg.channels)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(seed)
    target = torch.as_tensor(y, dtype=torch.float32)
    weight = torch.as_tensor(w, dtype=torch.float32)
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
