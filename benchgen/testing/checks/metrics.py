"""The contract checks of metrics."""

from __future__ import annotations

import math
from typing import Any

from benchgen.interfaces import METRIC_KINDS, MetricContext, MetricResult
from benchgen.testing.checks import every_kind  # noqa: F401  (import and build run first)
from benchgen.testing.checks.shared import same_numbers
from benchgen.testing.core import Checker, contract_check


def _metric_ctx(h: Checker) -> MetricContext:
    return h.memo("metric-ctx", lambda: MetricContext(seed=0, device="cpu", cache_dir=h.folder("metric-cache"),
                                                      real_fingerprint="contract-real-set"))


def _score_once(h: Checker, label: str) -> Any:
    c = h.cohorts
    train = c["train"] if getattr(h.cls, "needs_train", False) else None
    return h.call(label, h.plugin.score, c["synthetic"], c["test"], train, _metric_ctx(h))


def _results_of(h: Checker, out: Any) -> dict[str, MetricResult]:
    """A metric returns one MetricResult or a non-empty dict of named ones; normalise to a dict."""
    if isinstance(out, MetricResult):
        return {"": out}
    h.require(isinstance(out, dict) and out, f"score() returned {type(out).__name__}, not a MetricResult or a "
              "non-empty dict of them")
    for key, res in out.items():
        h.require(isinstance(key, str) and key, f"sub-result key {key!r} must be a non-empty string")
        h.require(isinstance(res, MetricResult), f"sub-result '{key}' is {type(res).__name__}, not a MetricResult")
    return out


def _scores(h: Checker) -> dict[str, MetricResult]:
    return h.memo("scores", lambda: _results_of(h, _score_once(h, "score()")))


@contract_check("metrics", "metadata")
def metric_metadata(h: Checker) -> str:
    """`higher_is_better` and `needs_train` are bools, `version` is a non-empty string, and `config()`
    records that version."""
    cls: Any = h.cls  # a Metric subclass (checked by the import check); typed as Plugin
    h.require(isinstance(cls.higher_is_better, bool), f"higher_is_better is {cls.higher_is_better!r}, not a bool")
    h.require(cls.kind in METRIC_KINDS, f"kind is {cls.kind!r}, not one of {', '.join(METRIC_KINDS)}")
    h.require(isinstance(cls.needs_train, bool), f"needs_train is {cls.needs_train!r}, not a bool")
    h.require(isinstance(cls.version, str) and cls.version, f"version is {cls.version!r}, not a non-empty string")
    h.require(h.plugin.config()["version"] == cls.version,
              f"config() records version {h.plugin.config()['version']!r}, the class says {cls.version!r}")
    return f"{'higher' if cls.higher_is_better else 'lower'} is better, needs_train={cls.needs_train}"


@contract_check("metrics", "score")
def metric_score(h: Checker) -> str:
    """`score(synthetic 6, real 8, train 10 if needs_train, ctx)` on tiny sets of unequal size returns a
    `MetricResult` or a non-empty dict of them with non-empty string keys."""
    results = _scores(h)
    return ", ".join(f"{k or 'value'}={r.value:.4g}" if isinstance(r.value, (int, float)) and r.status == "ok"
                     else f"{k or 'value'} {r.status}" for k, r in results.items())


@contract_check("metrics", "result_values", requires=("score",))
def metric_result_values(h: Checker) -> None:
    """Each result is `ok` with a finite number (a finite `low ≤ high` CI if any, a finite reference if any,
    a dict of details) or `skipped` with a message; `higher_is_better` per result is None or a bool."""
    for key, res in _scores(h).items():
        where = f"result '{key}'" if key else "result"
        h.require(res.status in ("ok", "skipped"), f"{where}: status {res.status!r} ({res.message})")
        h.require(res.higher_is_better is None or isinstance(res.higher_is_better, bool),
                  f"{where}: higher_is_better {res.higher_is_better!r}")
        if res.status == "skipped":
            h.require(isinstance(res.message, str) and res.message.strip(), f"{where}: skipped without a message")
            continue
        h.require(isinstance(res.value, (int, float)) and not isinstance(res.value, bool),
                  f"{where}: value {res.value!r}")
        h.require(res.value is not None and math.isfinite(res.value), f"{where}: value {res.value}")
        if res.ci is not None:
            try:
                lo, hi = res.ci
                ok = math.isfinite(lo) and math.isfinite(hi) and lo <= hi
            except (TypeError, ValueError):
                ok = False
            h.require(ok, f"{where}: ci {res.ci}")
        if res.reference is not None:
            h.require(math.isfinite(res.reference), f"{where}: reference {res.reference}")
        h.require(isinstance(res.details, dict), f"{where}: details is {type(res.details).__name__}, not a dict")


@contract_check("metrics", "deterministic_for_seed", requires=("score",))
def metric_deterministic(h: Checker) -> None:
    """Scoring again with the same `ctx.seed` (and a warm `ctx.cache_dir`) gives the same status, value and CI."""
    first = _scores(h)
    second = _results_of(h, _score_once(h, "score() again"))
    h.require(first.keys() == second.keys(), f"the results changed keys: {sorted(first)} then {sorted(second)}")
    for key in first:
        a, b = first[key], second[key]
        h.require(a.status == b.status and same_numbers(a.value, b.value) and same_numbers(a.ci, b.ci),
                  f"result '{key}' changed between calls: {(a.status, a.value, a.ci)} then {(b.status, b.value, b.ci)}")
