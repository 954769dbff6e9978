"""Scoring one synthetic set with one metric: the single path used by the runner and ``benchgen evaluate``.

A metric returns one :class:`MetricResult` or a dict of named sub-results; :func:`score_metric` flattens
them to ``(column, result)`` pairs (``label`` or ``label.key``) and turns a metric's exception into an
error result that keeps the plugin's traceback in ``details`` (shown with ``--debug``), so one failing
metric never hides the others.
"""

from __future__ import annotations

import json
import math
import traceback
from typing import Any

from benchgen.errors import BenchgenError
from benchgen.interfaces import Metric, MetricContext, MetricResult
from benchgen.volumes import Cohort


def score_metric(metric: Metric, label: str, synthetic: Cohort, real: Cohort, train: Cohort | None,
                 ctx: MetricContext) -> list[tuple[str, MetricResult]]:
    """Score `synthetic` against `real` (and `train` if the metric needs it): flattened (column, result)."""
    try:
        result = metric.score(synthetic, real, train if metric.needs_train else None, ctx)
        return flatten(result, label, metric)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # stored as an error; the other metrics go on
        return [(label, error_result(exc))]


def score_stratified(metric: Metric, label: str, synthetic: Cohort, real: Cohort, train: Cohort | None,
                     ctx: MetricContext, by: str) -> list[tuple[str, MetricResult]]:
    """The metric on each group of metadata key `by` (``condition``, ``sex``) alone: columns ``col[group]``
    (``mmd[ftd-like]``, ``prdc.recall[ftd-like]``), synthetic, real and training scans of that group only."""
    import dataclasses

    from benchgen.hashing import fingerprint

    groups = {by_key: [group_of(m, s, by) for s, m in zip(c.subject_ids, c.metadata)] if c is not None else []
              for by_key, c in (("synthetic", synthetic), ("real", real), ("train", train))}
    out = []
    for group in sorted({g for g in groups["synthetic"] + groups["real"] if g is not None}):
        part = {k: [i for i, g in enumerate(v) if g == group] for k, v in groups.items()}
        sub_train = train.subset(part["train"]) if train is not None and part["train"] else None
        if len(part["synthetic"]) < 2 or len(part["real"]) < 2:
            res = [(label, MetricResult(None, status="skipped", message=f"{by} = {group}: fewer than 2 synthetic "
                                        "or real scans"))]
        else:
            gctx = dataclasses.replace(ctx, real_fingerprint=fingerprint([ctx.real_fingerprint, by, group]))
            res = score_metric(metric, label, synthetic.subset(part["synthetic"]), real.subset(part["real"]),
                               sub_train, gctx)
        out += [(f"{column}[{group}]", r) for column, r in res]
    return out


def group_of(metadata: dict[str, Any], subject: str, by: str) -> str | None:
    """A scan's group for stratified scoring: its normalised condition, or the value of `by`."""
    if by == "condition":
        from benchgen.conditions import condition_of

        return condition_of(metadata, f"subject '{subject}'")
    value = metadata.get(by)
    return None if value is None else str(value)


def flatten(result: MetricResult | dict[str, MetricResult], label: str,
            metric: Metric) -> list[tuple[str, MetricResult]]:
    """A metric's result(s) as (column, result); sub-results become `label.key`."""
    if isinstance(result, MetricResult):
        keyed = [("", label, result)]
    elif isinstance(result, dict):
        keyed = [(k, f"{label}.{k}", r) for k, r in result.items()]
    else:
        raise TypeError(f"metric '{label}' returned {type(result).__name__}, expected MetricResult or dict")
    for key, _, r in keyed:
        if r.higher_is_better is None:
            r.higher_is_better = metric.higher_is_better
        note = metric.interval_notes.get(key)
        if note and r.ci is not None:  # a measured coverage outside the goal travels with the number
            r.details = {**r.details, "interval_note": note}
    return [(column, r) for _, column, r in keyed]


def error_message(exc: BaseException) -> str:
    """One line: a user-facing error's own message, else the exception's type and text."""
    if isinstance(exc, BenchgenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def error_result(exc: BaseException, prefix: str = "") -> MetricResult:
    """An error result for an exception raised inside a plugin, with its traceback kept for --debug."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return MetricResult(None, status="error", message=prefix + error_message(exc), details={"traceback": tb})


def stored_details(res: MetricResult) -> dict[str, Any]:
    """What a record keeps in ``details``: the metric's details plus its bootstrap replicates (rounded to
    float32 precision: ample for intervals and ranks, half the text) and how its interval was formed."""
    if res.replicates is None:
        return res.details
    reps = [None if not math.isfinite(v) else float(f"{v:.8g}") for v in map(float, res.replicates)]
    return {**res.details, "replicates": reps, "ci_method": res.ci_method,
            **({"ci_bounds": list(res.ci_bounds)} if res.ci_bounds else {})}


def finite_or_none(value: Any) -> float | None:
    """A float for storage and JSON: None for missing, NaN or infinite values."""
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def jsonable(obj: Any) -> Any:
    """`obj` as plain JSON types (arrays via tolist, anything else via str)."""
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
