"""Contract every registered metric passes (built with its `tiny_params`, on tiny sets of unequal size)."""

from __future__ import annotations

import math

import pytest

from benchgen.errors import MissingWeightsError
from benchgen.interfaces import Metric, MetricContext, MetricResult


def results_of(out) -> dict[str, MetricResult]:
    """A metric returns one MetricResult or a non-empty dict of named ones; normalise to a dict."""
    if isinstance(out, MetricResult):
        return {"": out}
    assert isinstance(out, dict) and out, f"score() returned {type(out).__name__}, not MetricResult or a dict"
    for key, res in out.items():
        assert isinstance(key, str) and key, f"sub-result key {key!r} must be a non-empty string"
        assert isinstance(res, MetricResult), f"sub-result '{key}' is {type(res).__name__}"
    return out


@pytest.fixture(scope="module")
def scored(metric_name, load_plugin, cohorts, tmp_path_factory):
    """(class, metric, results of two identical calls): scored once per metric for all the checks."""
    cls, metric = load_plugin("metrics", metric_name)
    assert issubclass(cls, Metric)
    train = cohorts["train"] if cls.needs_train else None
    ctx = MetricContext(seed=0, device="cpu", cache_dir=tmp_path_factory.mktemp("cache"),
                        real_fingerprint="contract-real-set")
    try:
        first = metric.score(cohorts["synthetic"], cohorts["test"], train, ctx)
        second = metric.score(cohorts["synthetic"], cohorts["test"], train, ctx)
    except MissingWeightsError as exc:  # pretrained weights are a local file the user provides
        pytest.skip(f"metric '{metric_name}' needs weights that are not on this machine: {exc.message}")
    return cls, metric, results_of(first), results_of(second)


def test_metadata(scored):
    cls, metric, _, _ = scored
    assert isinstance(cls.higher_is_better, bool)
    assert isinstance(cls.needs_train, bool)
    assert isinstance(cls.version, str) and cls.version
    assert metric.config()["version"] == cls.version


def test_every_result_is_a_finite_value_or_a_skip_with_a_message(scored):
    _, _, results, _ = scored
    for key, res in results.items():
        where = f"result '{key}'" if key else "result"
        assert res.status in ("ok", "skipped"), f"{where}: status {res.status!r} ({res.message})"
        assert res.higher_is_better is None or isinstance(res.higher_is_better, bool)
        if res.status == "skipped":
            assert isinstance(res.message, str) and res.message.strip(), f"{where}: skipped without a message"
            continue
        assert isinstance(res.value, (int, float)) and not isinstance(res.value, bool), f"{where}: value {res.value!r}"
        assert math.isfinite(res.value), f"{where}: value {res.value}"
        if res.ci is not None:
            lo, hi = res.ci
            assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi, f"{where}: ci {res.ci}"
        if res.reference is not None:
            assert math.isfinite(res.reference)
        assert isinstance(res.details, dict)


def test_same_seed_same_numbers(scored):
    _, _, first, second = scored
    assert first.keys() == second.keys()
    for key in first:
        a, b = first[key], second[key]
        assert (a.status, a.value, a.ci) == (b.status, b.value, b.ci), f"result '{key}' changed between calls"
