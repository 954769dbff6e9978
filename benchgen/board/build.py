"""Result records -> boards (:class:`benchgen.board.board.Board`), ranked; :mod:`benchgen.board.render` prints them.

One board per (suite, version, profile, protocol, n_real, n_synthetic): scores made under different settings
are never ranked against each other. Within a board, each generator label uses its latest config and
each metric column its latest params; older records are counted and reported, never mixed in.
A cell is the mean over seeds with a 95% t-interval over seeds (two or more seeds), or the metric's own
bootstrap interval (one seed), printed as ``value [low, high]`` (bootstrap intervals can be asymmetric).
A one-seed value outside its own bootstrap interval (the statistic's small-sample bias) is printed with
the interval as stored and marked ``†``. A "real (test split)" row shows metrics' values of the real set
itself (e.g. MS-SSIM of real scans, the paper's 0.74); a column with such a reference is ranked by the
distance to it (``≈``, closest is best), not by ``↑``/``↓``. A row without a value of the primary metric
(every cell errored, say) gets no rank.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from benchgen.board import intervals
from benchgen.board.board import Board, Cell
from benchgen.functional import hierarchical
from benchgen.functional.bootstrap import interval
from benchgen.results.store import draw_of
from benchgen.suite.protocols import record_note as protocol_note


def t_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval over seeds."""
    from scipy import stats

    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if len(arr) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
    return mean, mean - half, mean + half


def _replicates(record: dict[str, Any]) -> np.ndarray | None:
    reps = (record.get("details") or {}).get("replicates")
    return None if not reps else np.array([np.nan if v is None else v for v in reps], dtype=np.float64)


def _cell(records: list[dict[str, Any]], field_name: str = "value") -> Cell:
    """One board cell from a generator's records of one metric (one per seed). With bootstrap replicates
    on every record: the mean over seeds, and the interval of the replicates averaged over seeds (replicate
    b of every seed resamples the same real subjects, so the shared real set's variance is kept). Without
    them: a Student-t interval over seeds, or one seed's stored interval."""
    if field_name == "reference":  # the real row: its stored interval or none (see intervals.reference_interval)
        ref = intervals.reference_interval(records)
        return Cell(None, None, None, 0, "-") if ref is None else Cell(*ref, n=1, status="ok")
    ok = [r for r in records if r["status"] == "ok" and r.get(field_name) is not None]
    seeds_total = len({(fit_of(r), r["seed"]) for r in records})  # sample sets the cell should have
    if not ok:
        statuses = {r["status"] for r in records}
        status = statuses.pop() if len(statuses) == 1 else "mixed"
        msg = next((r.get("message") for r in records if r.get("message")), None)
        return Cell(None, None, None, 0, status if records else "-", msg, seeds_total=seeds_total)
    vals = [float(r[field_name]) for r in ok]
    status = "ok" if len(ok) == len(records) else "mixed"
    bounds = intervals.bounds_of(ok[0])
    extra: dict[str, Any] = dict(sources=intervals.sources_of(ok[0]), seeds_total=seeds_total)
    found = [_replicates(r) for r in ok]
    reps = [x for x in found if x is not None]
    if reps and len(reps) == len(ok) and all(len(x) == len(reps[0]) for x in reps):
        by_run: dict[tuple[int, int], list[float]] = {}
        reps_by_run: dict[tuple[int, int], list[np.ndarray]] = {}
        for r, v, x in zip(ok, vals, reps):
            by_run.setdefault(run_of(r), []).append(v)
            reps_by_run.setdefault(run_of(r), []).append(x)
        pooled_fits = hierarchical.pool(by_run, reps_by_run)  # one run: the mean over seeds, as it always was
        mean, pooled = pooled_fits.value, pooled_fits.replicates
        assert pooled is not None
        extra.update(fits=pooled_fits.fits, parts=pooled_fits.parts)
        method = (ok[0].get("details") or {}).get("ci_method", "percentile")
        ci = interval(mean, pooled, method, bounds=bounds)
        lo_, hi_ = ci if ci else (None, None)
        note = (ok[0].get("details") or {}).get("interval_note")
        return Cell(mean, lo_, hi_, len(vals), status, replicates=pooled, method=method, interval_note=note,
                    nonfinite=intervals.count_nonfinite(pooled), **extra)
    lo: float | None
    hi: float | None
    if len(vals) >= 2:
        mean, lo, hi = t_interval(vals)
    else:
        mean = vals[0]
        lo, hi = ok[0]["ci_low"], ok[0]["ci_high"]
    lo, hi = intervals.clip(lo, hi, bounds)
    return Cell(mean, lo, hi, len(vals), status, **extra)


def fit_of(record: dict[str, Any]) -> int:
    """The record's training run (0 for suites fitted once, whose records do not say)."""
    return int((record.get("extra") or {}).get("fit", 0))


def run_of(record: dict[str, Any]) -> tuple[int, int]:
    """The record's training run as (draw of the training set, fit): what the hierarchical bootstrap resamples
    first. Draws and fits are both training runs (a draw is fitted with its own seed); -1: one draw."""
    draw = draw_of(record)
    return (-1 if draw is None else draw, fit_of(record))


def build_boards(records: list[dict[str, Any]], hidden: int = 0) -> list[Board]:
    """Group records into boards and rank each by its suite's primary metric. `hidden` counts records a
    caller left out (older configs), reported in each board's caption."""
    records = [r for r in records if not (r.get("details") or {}).get("marker")]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in records:  # a protocol is part of the key: two protocols' scores are never ranked together
        # and so is the dataset: two datasets' scores are never averaged as if they were seeds
        groups.setdefault((r["suite"], r["suite_version"], r["profile"], r["n_real"], r["n_synthetic"],
                           r.get("protocol") or "", r.get("data_fingerprint") or ""), []).append(r)
    datasets: dict[tuple[Any, ...], int] = {}
    for key in groups:
        datasets[key[:6]] = datasets.get(key[:6], 0) + 1
    boards = []
    for (suite, version, profile, n_real, n_syn, protocol, data_fp), recs in sorted(
            groups.items(), key=lambda kv: (*kv[0][:3], kv[0][5], kv[0][6])):
        latest_gen: dict[str, str] = {}
        latest_met: dict[str, str] = {}
        for r in recs:  # insertion order: the latest config of each label wins
            latest_gen[r["generator"]] = r["generator_config_hash"]
            latest_met[r["metric"]] = json.dumps(r["metric_params"], sort_keys=True)
        keep = [r for r in recs if latest_gen[r["generator"]] == r["generator_config_hash"]
                and latest_met[r["metric"]] == json.dumps(r["metric_params"], sort_keys=True)]
        columns = sorted({r["metric"] for r in keep}, key=lambda c: _first_seen(keep, c))
        hib = {c: next((r["higher_is_better"] for r in keep if r["metric"] == c
                        and r["higher_is_better"] is not None), None) for c in columns}
        primary = keep[-1]["primary_metric"] if keep else ""
        if primary not in columns:
            primary = next((c for c in columns if c.startswith(primary + ".")), columns[0] if columns else "")
        rows = []
        for gen in sorted({r["generator"] for r in keep}, key=lambda g: _first_seen(keep, g, "generator")):
            grecs = [r for r in keep if r["generator"] == gen]
            cells = {c: _cell([r for r in grecs if r["metric"] == c]) for c in columns}
            info = {"plugin": grecs[0]["generator_plugin"], "config": grecs[0]["generator_config_hash"][:8],
                    "seeds": scored_seeds(grecs), "sampler": grecs[0].get("sampler") or {},
                    "fits": sorted({fit_of(r) for r in grecs}),
                    "draws": sorted({d for r in grecs if (d := draw_of(r)) is not None}),
                    "conditioning": (grecs[0].get("sampler") or {}).get("conditioning"),
                    "seconds_per_volume": seconds_per_volume(grecs)}
            rows.append((gen, info, cells))
        reference = {c: _cell([r for r in keep if r["metric"] == c and r.get("reference") is not None], "reference")
                     for c in columns}
        reference = {c: cell for c, cell in reference.items() if cell.mean is not None}
        targets = {c: t for c in columns if c not in reference
                   and (t := intervals.target_of(next(r for r in keep if r["metric"] == c))) is not None}
        board = Board(suite, version, profile, n_real, n_syn, primary, columns, hib, rows, reference,
                      ignored=len(recs) - len(keep) + hidden, protocol=protocol,
                      below_protocol=next((n for n in map(protocol_note, keep) if n), ""),
                      conditions=next((t["counts"] for r in keep if (t := (r.get("extra") or {}).get("condition_table"))),
                                      {}),
                      targets=targets, data=data_fp if datasets[(suite, version, profile, n_real, n_syn, protocol)] > 1
                      else "")
        rows.sort(key=board.order_key)
        boards.append(board)
    return boards


def scored_seeds(records: list[dict[str, Any]]) -> list[int]:
    """The seeds every scored column of a row has a value for (a seed whose cell errored is not counted;
    columns no seed scored, e.g. skipped ones, do not count against it)."""
    ok: dict[str, set[int]] = {}
    for r in records:
        if r["status"] == "ok" and r.get("value") is not None:
            ok.setdefault(r["metric"], set()).add(r["seed"])
    return sorted(set.intersection(*ok.values())) if ok else []


def seconds_per_volume(records: list[dict[str, Any]]) -> float | None:
    """A generator's seconds per sampled volume: the mean over seeds of each seed's draw, as its records'
    ``sampler.seconds_per_volume`` hold it (None when no record has one: samples drawn before draws were timed)."""
    per_seed: dict[int, float] = {}
    for r in records:
        v = (r.get("sampler") or {}).get("seconds_per_volume")
        if v is not None:
            per_seed.setdefault(r["seed"], float(v))
    return float(np.mean(list(per_seed.values()))) if per_seed else None



def stored_boards(store: Any, suite: str | None = None, profile: str | None = None) -> list[Board]:
    """Boards of every stored suite (or of the suite named `suite`), latest config per label."""
    from benchgen.errors import ConfigError

    if suite and suite not in store.suites():
        raise ConfigError(f"no results for suite '{suite}'", f"stored suites: {', '.join(store.suites()) or 'none'}")
    return build_boards(store.records(suite=suite, profile=profile))


def _first_seen(records: list[dict[str, Any]], value: str, key: str = "metric") -> int:
    return next(i for i, r in enumerate(records) if r[key] == value)



def select(boards: list[Board], metrics: str | list[str] | None) -> list[Board]:
    """Only these columns on every board: a list, or comma-separated text (``mmd,frd,prdc``)."""
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    return [b.select(metrics) for b in boards] if metrics else boards

