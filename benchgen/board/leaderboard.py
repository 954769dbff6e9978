"""Result records -> ranked leaderboard -> renderers (rich table, Markdown, CSV, JSON, HTML).

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

import csv
import dataclasses
import html
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchgen.board import intervals
from benchgen.functional import hierarchical
from benchgen.functional.bootstrap import interval, percentile_ci
from benchgen.results.store import draw_of
from benchgen.suite.protocols import record_note as protocol_note

REAL_ROW = "real (test split)"
OUTSIDE = "†"  # a one-seed value outside its stored bootstrap interval
ARROWS = {"higher": "↑", "lower": "↓", "closest": "≈"}


def fmt_num(x: float) -> str:
    """A compact number: 3 significant digits, whole numbers from 100 to 1e5, exponents outside.
    Rounding is monotonic, so a value inside an interval prints inside the printed interval."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    a = abs(x)
    if 1e-3 <= a < 100:
        return f"{x:.3g}"
    if 100 <= a < 1e5:
        return f"{x:.0f}"
    return f"{x:.2e}"


def fmt_interval(value: float | None, lo: float | None, hi: float | None) -> str:
    """``value [low, high]``, ``value† [low, high]`` when the value lies outside, ``value`` without one."""
    if value is None:
        return ""
    s = fmt_num(value)
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return s
    mark = OUTSIDE if not lo <= value <= hi else ""
    return f"{s}{mark} [{fmt_num(lo)}, {fmt_num(hi)}]"


@dataclass
class Cell:
    mean: float | None
    lo: float | None
    hi: float | None
    n: int  # seeds with a value
    status: str  # ok, skipped, error, mixed
    message: str | None = None
    replicates: np.ndarray | None = None  # bootstrap replicates of `mean` (pooled over seeds), paired across rows
    method: str = "percentile"  # how the interval follows from the replicates
    interval_note: str | None = None  # the metric's measured interval coverage, where it misses the goal
    nonfinite: int = 0  # bootstrap replicates without a finite value (left out of the interval, reported)
    sources: str = intervals.REAL_AND_SAMPLES  # what the interval resamples
    seeds_total: int = 0  # (fit, seed) sample sets with a record, ok or not (a cell with fewer values says so)
    fits: int = 1  # training runs pooled into the cell (benchgen.functional.hierarchical)
    parts: dict[str, float | None] | None = None  # its variance: training, sampling, test_subjects

    @property
    def outside(self) -> bool:
        """The value lies outside its interval (only a one-seed bootstrap interval can do that)."""
        return (self.mean is not None and self.lo is not None and self.hi is not None
                and not (math.isnan(self.lo) or math.isnan(self.hi)) and not self.lo <= self.mean <= self.hi)

    def text(self) -> str:
        if self.mean is None:
            return self.status
        runs = "seeds" if self.fits == 1 else "fit × seed runs"
        short = f" ({self.n}/{self.seeds_total} {runs})" if 0 < self.n < self.seeds_total else ""
        return fmt_interval(self.mean, self.lo, self.hi) + short


@dataclass
class Board:
    suite: str
    version: str
    profile: str
    n_real: int
    n_synthetic: int
    primary: str
    columns: list[str]
    higher_is_better: dict[str, bool | None]
    rows: list[tuple[str, dict[str, Any], dict[str, Cell]]]  # (generator, info, cells)
    reference: dict[str, Cell] = field(default_factory=dict)
    ignored: int = 0  # older records (other configs) left out
    protocol: str = ""  # the metric protocol of every record on the board ("" = the suite's own metrics)
    below_protocol: str = ""  # "n below protocol (48 < 1000)" when the protocol's sample counts are not met
    conditions: dict[str, int] = field(default_factory=dict)  # the condition table's counts (synthetic set)
    targets: dict[str, float] = field(default_factory=dict)  # ≈ columns without a real row: the value to be near
    data: str = ""  # the dataset fingerprint, named in the title where boards of one suite differ in it
    baseline: str = ""  # the row every other row is compared with (verdicts section; "" = none)
    _rank_memo: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict, repr=False, compare=False)

    def direction(self, column: str) -> str | None:
        """higher, lower, closest (to the real set's reference value: the column has one) or None."""
        if column in self.reference or column in self.targets:
            return "closest"
        hib = self.higher_is_better.get(column)
        return None if hib is None else ("higher" if hib else "lower")

    def arrow(self, column: str) -> str:
        d = self.direction(column)
        return ARROWS[d] if d else ""

    def target(self, column: str) -> float | None:
        """The value a ≈ column's cells are judged against: the real row's, else the statistic's known value
        for two samples of one distribution."""
        if column in self.reference:
            return self.reference[column].mean
        return self.targets.get(column)

    def target_range(self, column: str) -> tuple[float, float] | None:
        """The real row's interval of a ≈ column (None: the target is taken as exact)."""
        ref = self.reference.get(column)
        if ref is None or ref.lo is None or ref.hi is None or math.isnan(ref.lo) or math.isnan(ref.hi):
            return None
        return ref.lo, ref.hi

    def badness(self, column: str, cell: Cell | None) -> float | None:
        """Sort key of a cell in its column: lower is better; None when it cannot be ranked."""
        if cell is None or cell.mean is None:
            return None
        d = self.direction(column)
        if d == "closest":
            ref = self.target(column)
            return abs(cell.mean - ref) if ref is not None else None
        return -cell.mean if d == "higher" else cell.mean if d == "lower" else None

    def best(self, column: str) -> set[str]:
        """The generator(s) that may be best on a column: no other row is better beyond doubt."""
        return {g for g, (top, _) in self.rank_intervals(column).items() if top == 1}

    def order_key(self, row: tuple[str, dict[str, Any], dict[str, Cell]]) -> tuple[bool, float]:
        """Rows sort by their primary cell's badness; rows without one last."""
        bad = self.badness(self.primary, row[2].get(self.primary))
        return bad is None, bad or 0.0

    # ------------------------------------------------------------------ significance-aware ranks
    def _targets(self, column: str) -> list[float]:
        """The reference values a ≈ comparison must hold for: the ends of the real row's interval when it has
        one (the difference of two distances to a point is monotone in the point, so its ends are the
        extremes), else the target itself."""
        span = self.target_range(column)
        return list(span) if span else [self.target(column) or 0.0]

    def _badness_replicates(self, column: str, cell: Cell, ref: float | None = None) -> np.ndarray | None:
        if cell.replicates is None:
            return None
        d = self.direction(column)
        if d == "closest":
            return np.abs(cell.replicates - ((self.target(column) or 0.0) if ref is None else ref))
        return -cell.replicates if d == "higher" else cell.replicates if d == "lower" else None

    def _badness_interval(self, column: str, cell: Cell, ref: float | None = None) -> tuple[float, float] | None:
        if cell.lo is None or cell.hi is None or math.isnan(cell.lo) or math.isnan(cell.hi):
            return None
        d = self.direction(column)
        if d == "closest":
            r = (self.target(column) or 0.0) if ref is None else ref
            a, b = cell.lo - r, cell.hi - r
            return (0.0 if a <= 0.0 <= b else min(abs(a), abs(b))), max(abs(a), abs(b))
        return (-cell.hi, -cell.lo) if d == "higher" else (cell.lo, cell.hi)

    def better(self, column: str, a: Cell, b: Cell) -> bool:
        """`a` is better than `b` on `column` beyond the 95% level: the 95% percentile interval of the paired
        bootstrap differences of their badness (replicate k of both resamples the same real subjects) lies
        below 0; without replicates on both, their intervals must be disjoint."""
        bad_a, bad_b = self.badness(column, a), self.badness(column, b)
        if bad_a is None or bad_b is None:
            return False
        refs = self._targets(column) if self.direction(column) == "closest" else [None]
        return all(self._better_at(column, a, b, ref) for ref in refs)

    def _better_at(self, column: str, a: Cell, b: Cell, ref: float | None) -> bool:
        ra, rb = self._badness_replicates(column, a, ref), self._badness_replicates(column, b, ref)
        if ra is not None and rb is not None and len(ra) == len(rb):
            # the percentile interval of the paired differences (the standard paired bootstrap test), whatever
            # the cells' own interval method: reflecting (basic) a skewed difference would undo the pairing
            ci = percentile_ci(ra - rb)
            return ci is not None and ci[1] < 0.0
        ia, ib = self._badness_interval(column, a, ref), self._badness_interval(column, b, ref)
        return ia is not None and ib is not None and ia[1] < ib[0]

    def rank_intervals(self, column: str) -> dict[str, tuple[int, int]]:
        """Per ranked row: (best, worst) rank on `column` that the data support — 1 + the rows better
        than it beyond doubt, and the count of rows minus those it beats beyond doubt (the paired rule of
        :meth:`better`, Holm-adjusted over the column's pairs: benchgen.board.verdicts.separated_pairs). Rows that
        cannot be separated share ranks."""
        if column not in self._rank_memo:
            cells = {g: cs[column] for g, _, cs in self.rows
                     if column in cs and self.badness(column, cs[column]) is not None}
            from benchgen.board.verdicts import separated_pairs

            apart = separated_pairs(self, column, cells)  # Holm over the column's pairs: see there
            out = {}
            for g in cells:
                above = sum((h, g) in apart for h in cells if h != g)
                below = sum((g, h) in apart for h in cells if h != g)
                out[g] = (1 + above, len(cells) - below)
            self._rank_memo[column] = out
        return self._rank_memo[column]

    def point_rank(self, column: str, generator: str) -> int | None:
        """1 + the rows with a strictly better value (ties share a rank); None when not ranked."""
        scores = {g: self.badness(column, cs.get(column)) for g, _, cs in self.rows}
        mine = scores.get(generator)
        return None if mine is None else 1 + sum(v is not None and v < mine for v in scores.values())

    def rank_text(self, column: str, generator: str) -> str:
        r = self.rank_intervals(column).get(generator)
        return "" if r is None else str(r[0]) if r[0] == r[1] else f"{r[0]}–{r[1]}"

    def cell_text(self, column: str, generator: str, cell: Cell) -> str:
        """``value [low, high] #best–worst`` (the rank interval only on boards of two rows or more)."""
        rank = self.rank_text(column, generator) if len(self.rows) > 1 else ""
        return cell.text() + (f" #{rank}" if rank else "")

    def ranks(self) -> list[str]:
        """Each row's rank interval on the primary metric ("" for a row without a value of it)."""
        return [self.rank_text(self.primary, g) for g, _, _ in self.rows]

    def any_outside(self) -> bool:
        cells = [c for _, _, cs in self.rows for c in cs.values()] + list(self.reference.values())
        return any(c.outside for c in cells)

    def seeds(self) -> str:
        counts = sorted({len(info["seeds"]) for _, info, _ in self.rows})
        return ", ".join(map(str, counts))

    def caption(self) -> str:
        """The legend every renderer shows under the board."""
        text = "value [low, high]: 95% CI (" + self.sources_caption() + ")"
        if len(self.rows) > 1:
            text += (" · #a–b and the rank column: the best and worst rank the data support (paired bootstrap "
                     "against every other row); rows sharing ranks are not separated")
        arrows = [f"{ARROWS[d]} {words}" for d, words in (("lower", "lower is better"), ("higher", "higher is better"),
                                                           ("closest", f"closest to the {REAL_ROW} row is best"))
                  if any(self.direction(c) == d for c in self.columns)]
        if arrows:
            text += " · " + ", ".join(arrows)
        if self.any_outside():
            text += (f" · {OUTSIDE} the value lies outside its bootstrap interval (small-sample bias of "
                     "the statistic)")
        notes = {c: cell.interval_note for c in self.columns for _, _, cs in self.rows
                 if (cell := cs.get(c)) is not None and cell.interval_note}
        if notes:  # columns with the same note (prdc.*) share it
            by_note: dict[str, list[str]] = {}
            for c, n in notes.items():
                by_note.setdefault(n, []).append(c)
            text += " · intervals outside the 0.90–0.99 coverage goal: " + "; ".join(
                f"{', '.join(cs)} {n}" for n, cs in by_note.items())
        text += self.conditions_caption() + self.fits_caption() + self.nonfinite_caption()
        if self.below_protocol:
            text += (f" · {self.below_protocol}: fewer volumes than protocol {self.protocol} scores, so these "
                     "numbers are not comparable with the paper's")
        if self.ignored:
            text += f" · {self.ignored} older records of other configs not shown (--all-configs shows them)"
        return text

    def short_caption(self) -> str:
        """The terminal's legend: what a cell holds, in at most three lines at 100 columns, and the warnings
        that change how the board may be read; `benchgen leaderboard --explain` gives the full one."""
        once = self.fits_caption().startswith(" · trained once")
        text = "value [low, high]: mean over seeds, 95% interval" + (
            " (trained once: no training variance)" if once else " over training runs, seeds, subjects")
        if len(self.rows) > 1:
            text += " · #a–b: the best–worst rank the data support"
        used = [d for d in ("lower", "higher", "closest") if any(self.direction(c) == d for c in self.columns)]
        words = {"lower": "↓ lower", "higher": "↑ higher", "closest": "≈ closest to the real set"}
        text += " · " + " / ".join(words[d] for d in used) + " is better" if used else ""
        if self.any_outside():
            text += f" · {OUTSIDE} value outside its interval (small-sample bias)"
        if self.below_protocol:
            text += f" · {self.below_protocol}: not comparable with protocol {self.protocol}'s published numbers"
        if any("[" in c for c in self.columns):
            text += " · col[group]: that group's scans only"
        if self.ignored:
            text += f" · {self.ignored} older records not shown"
        return text + " · full legend" + (" (how each row met the condition table)" if len(self.conditions) > 1
                                          else "") + ": benchgen leaderboard --explain"

    def sources_caption(self) -> str:
        """What each column's interval resamples, grouped ("mmd, frd: bootstrap over real subjects and samples;
        utility: ..."), pooled over seeds; a Student t over seeds for records without replicates."""
        by: dict[str, list[str]] = {}
        for c in self.columns:
            cells = [cs[c] for _, _, cs in self.rows if c in cs and cs[c].mean is not None]
            if any(cell.replicates is not None for cell in cells):
                by.setdefault(f"bootstrap over {cells[0].sources}", []).append(c)
            elif cells:
                by.setdefault("Student t over seeds" if any(cell.n > 1 for cell in cells) else "as stored",
                              []).append(c)
        pooled = any(k.startswith("bootstrap") for k in by) and any(len(i["seeds"]) > 1 for _, i, _ in self.rows)
        return "; ".join(f"{', '.join(cs)}: {how}" for how, cs in by.items()) + (
            ", pooled over seeds" if pooled else "")

    def fits_caption(self) -> str:
        """Whether the intervals hold the training run's variance: one line either way. Draws of the training set
        are training runs too (each is fitted with its own seed)."""
        fits = {len(info.get("fits") or [0]) for _, info, _ in self.rows}
        draws = {len(info.get("draws") or []) for _, info, _ in self.rows} - {0}
        if fits == {1} and not draws:
            return " · trained once: intervals leave out training variance"
        runs = (f"fits per row: {', '.join(map(str, sorted(fits)))}"
                + (f", on each of {', '.join(map(str, sorted(draws)))} draws of the training set" if draws else ""))
        return (f" · {runs}; intervals resample training runs, then real subjects and samples within each (each "
                "cell's variance split: JSON variance_parts, the report)")

    def nonfinite_caption(self) -> str:
        """Cells whose bootstrap had non-finite replicates (left out of the interval): how many of how many."""
        bad = [f"{g}/{c} {cell.nonfinite} of {len(cell.replicates)}" for g, _, cs in self.rows
               for c, cell in cs.items() if c in self.columns and cell.nonfinite and cell.replicates is not None]
        return f" · non-finite bootstrap replicates left out: {', '.join(bad)}" if bad else ""

    def conditions_caption(self) -> str:
        """How the rows met the condition table, and what pooled and per-group columns mean ('' for a
        single-condition board)."""
        if len(self.conditions) < 2:
            return ""
        text = " · synthetic sets drawn to the condition table (" + ", ".join(
            f"{c} {n}" for c, n in self.conditions.items()) + ")"
        modes: dict[str, list[str]] = {}
        for gen, info, _ in self.rows:
            modes.setdefault(info.get("conditioning") or "unconditional", []).append(gen)
        if "unconditional" in modes:
            text += (f"; unconditional, the table's labels assigned to its samples: {', '.join(modes['unconditional'])}")
        if "per-condition" in modes:
            text += f"; fitted per condition: {', '.join(modes['per-condition'])}"
        if any("[" in c for c in self.columns):
            text += " · col[group]: that group's scans only; columns without [...] pool all conditions"
        return text

    def select(self, metrics: list[str] | None) -> Board:
        """The board with only these columns (a name, or a prefix such as prdc for prdc.*), in that order."""
        if not metrics:
            return self
        from benchgen.errors import ConfigError

        cols: list[str] = []
        for m in metrics:
            hit = [c for c in self.columns if c == m or c.startswith((m + ".", m + "["))]
            if not hit:
                raise ConfigError(f"--metrics: no column '{m}' on the {self.suite} board",
                                  f"columns: {', '.join(self.columns)}")
            cols += [c for c in hit if c not in cols]
        return dataclasses.replace(self, columns=cols)

    def title(self) -> str:
        protocol = "".join(f" · {t}" for t in (self.protocol and f"protocol {self.protocol}", self.below_protocol) if t)
        data = f" · data {self.data[:8]}" if self.data else ""
        return (f"{self.suite} v{self.version} · profile {self.profile}{protocol}{data} · n_real {self.n_real} · "
                f"n_synthetic {self.n_synthetic} · ranked by {self.primary} {self.arrow(self.primary)}")


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


# ------------------------------------------------------------------------------- sampler comparison
@dataclass(frozen=True)
class SamplerRow:
    """A board row's sampler: name, steps, network evaluations per volume (PNDM's warm-up adds some) and the
    measured seconds per volume; steps and evaluations are None for a generator without steps (holdout, noise)."""

    generator: str
    sampler: str
    steps: int | None
    evaluations: int | None
    seconds_per_volume: float | None


def sampler_rows(board: Board) -> list[SamplerRow]:
    """Every row's sampler in board order, or [] unless the board compares samplers: two rows or more have
    steps (``inference_steps``) and they differ in sampler or steps. Boards of one DDPM beside baselines (every
    other suite) stay as they are."""
    rows = []
    for gen, info, _ in board.rows:
        s = info.get("sampler") or {}
        steps = s.get("inference_steps")
        steps = int(steps) if isinstance(steps, (int, float)) else None
        evals = s.get("network_evaluations", steps)
        rows.append(SamplerRow(gen, str(s.get("sampler", "?")), steps, None if evals is None else int(evals),
                               info.get("seconds_per_volume")))
    stepped = {(r.sampler, r.steps) for r in rows if r.steps is not None}
    return rows if sum(r.steps is not None for r in rows) >= 2 and len(stepped) >= 2 else []


def sampler_caption(board: Board) -> str:
    """Where the seconds per volume were measured: devices and torch threads of the rows' draws."""
    where = sorted({f"{s.get('timed_on')}, {s.get('timed_threads')} torch threads" for _, info, _ in board.rows
                    if (s := info.get("sampler") or {}).get("timed_on")})
    return ("steps: the sampler's steps; evaluations: network evaluations per volume; s/volume: wall time of "
            "the generator's sample call over its volumes when the samples were drawn (mean over seeds; the "
            f"sample cache keeps it), {'; '.join(where) or 'where unknown'} — not part of any cell key")


def _sampler_cells(r: SamplerRow) -> list[str]:
    dash = "–"
    return [r.generator, r.sampler, dash if r.steps is None else str(r.steps),
            dash if r.evaluations is None else str(r.evaluations),
            dash if r.seconds_per_volume is None else fmt_num(r.seconds_per_volume)]


SAMPLER_HEAD = ["generator", "sampler", "steps", "evaluations", "s/volume"]


def sampler_table(board: Board) -> Any:
    """The board's samplers as one compact rich table (None when the board does not compare samplers)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = sampler_rows(board)
    if not rows:
        return None
    t = Table(title=Text(f"samplers of {board.suite} (board order)"), title_justify="left",
              caption=Text(sampler_caption(board)), caption_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
              collapse_padding=True, pad_edge=False)
    for i, h in enumerate(SAMPLER_HEAD):
        t.add_column(Text(h), justify="left" if i < 2 else "right")
    for r in rows:
        t.add_row(*map(Text, _sampler_cells(r)))
    return t


def sampler_markdown(board: Board) -> str:
    rows = sampler_rows(board)
    if not rows:
        return ""
    lines = ["| " + " | ".join(SAMPLER_HEAD) + " |", "|" + "---|" * len(SAMPLER_HEAD)]
    lines += ["| " + " | ".join(_sampler_cells(r)) + " |" for r in rows]
    return "\n".join(lines + ["", f"_{sampler_caption(board)}_"])


def sampler_html(board: Board) -> str:
    e = html.escape
    rows = sampler_rows(board)
    if not rows:
        return ""
    head = "".join(f"<th>{e(h)}</th>" for h in SAMPLER_HEAD)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _sampler_cells(r)) + "</tr>" for r in rows)
    return (f"<table class='samplers'><caption>{e(sampler_caption(board))}</caption><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")


def stored_boards(store: Any, suite: str | None = None, profile: str | None = None) -> list[Board]:
    """Boards of every stored suite (or of the suite named `suite`), latest config per label."""
    from benchgen.errors import ConfigError

    if suite and suite not in store.suites():
        raise ConfigError(f"no results for suite '{suite}'", f"stored suites: {', '.join(store.suites()) or 'none'}")
    return build_boards(store.records(suite=suite, profile=profile))


def _first_seen(records: list[dict[str, Any]], value: str, key: str = "metric") -> int:
    return next(i for i, r in enumerate(records) if r[key] == value)


# ---------------------------------------------------------------------------------------- renderers
def _header(board: Board, columns: list[str] | None = None, extra: bool = True, strip: str = "") -> list[str]:
    cols = board.columns if columns is None else columns
    head = ["rank", "generator", *[f"{c.removeprefix(strip)} {board.arrow(c)}".strip() for c in cols]]
    return head + (["seeds", "config"] if extra else [])


def _rows(board: Board, columns: list[str] | None = None, extra: bool = True) -> list[list[str]]:
    cols = board.columns if columns is None else columns
    out = []
    for rank, (gen, info, cells) in zip(board.ranks(), board.rows):
        tail = [str(len(info["seeds"])), info["config"]] if extra else []
        out.append([rank, gen, *[board.cell_text(c, gen, cells[c]) for c in cols], *tail])
    if any(c in board.reference for c in cols):  # a real row only where one of these columns has a value
        out.append(["", REAL_ROW, *[board.reference[c].text() if c in board.reference else "" for c in cols],
                    *(["", ""] if extra else [])])
    return out


def _groups(columns: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Plain columns, and sub-result columns (prdc.precision, ...) by prefix when a prefix has several."""
    prefixes: dict[str, list[str]] = {}
    for c in columns:
        if "." in c:
            prefixes.setdefault(c.split(".", 1)[0], []).append(c)
    groups = {p: cs for p, cs in prefixes.items() if len(cs) > 1}
    return [c for c in columns if not any(c in cs for cs in groups.values())], groups


def _table(board: Board, title: str, columns: list[str], extra: bool, caption: str | None, strip: str = "",
           compact: bool = False, rank_column: bool = True) -> Any:
    """One rich table of `columns`. Compact: light rules, a narrow rank column (#), no real row (each
    reference value is in its column's header, e.g. ``ms-ssim ≈0.907``). Without `rank_column` the rows keep
    their order but the primary metric's rank is not repeated (each cell carries its own)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    kw: dict[str, Any] = dict(box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True, pad_edge=False) \
        if compact else {}
    t = Table(title=Text(title), title_justify="left", caption=Text(caption) if caption else None,
              caption_justify="left", **kw)
    head = _header(board, columns, extra, strip)
    if compact:
        head[0] = "#"
        head[2:2 + len(columns)] = [h + (fmt_num(board.reference[c].mean or 0.0) if c in board.reference else "")
                                    for h, c in zip(head[2:], columns)]
    skip = 0 if rank_column else 1
    for i, h in enumerate(head[skip:], skip):
        primary = i >= 2 and i - 2 < len(columns) and columns[i - 2] == board.primary
        t.add_column(Text(h), justify="right" if i >= 2 else "left", style="bold" if primary else None)
    for row in _rows(board, columns, extra):
        if compact and row[1] == REAL_ROW:
            continue
        t.add_row(*map(Text, row[skip:]), style="dim" if row[1] == REAL_ROW else None)
    return t


def _fits(tables: list[Any], width: int) -> bool:
    from rich.console import Console

    measure = Console(width=10_000, file=io.StringIO())
    return all(measure.measure(t).maximum <= width for t in tables)


def board_tables(board: Board, width: int = 100) -> list[Any]:
    """The terminal layout of one board that fits `width` columns, the first that fits of: one table with
    every column; the same without the seeds/config columns (seeds go to the title); compact tables (see
    :func:`_table`): plain columns in one, sub-result columns (prdc.*) in one per prefix with the prefix
    left out of their headers, any table still too wide split column by column; only the first compact
    table has the rank column. The short legend follows as text (at most three lines at 100 columns; the
    full one is :func:`explain`)."""
    import textwrap

    from rich.text import Text

    title, legend = board.title(), Text(textwrap.fill(board.short_caption(), width))  # wrapped here: the CLI
    # console soft-wraps (no wrapping of its own), and a doc that shows the board gets the same lines
    short = f"{title} · seeds {board.seeds()}"
    layouts = [[_table(board, title, board.columns, True, None)],
               [_table(board, short, board.columns, False, None)]]
    for tables in layouts:
        if _fits(tables, width):
            return [*tables, legend]
    plain, groups = _groups(board.columns)
    parts = [(plain, "")] if plain else []
    parts += [(cs, p + ".") for p, cs in groups.items()]
    chunks: list[tuple[list[str], str]] = []
    for cols, strip in parts:  # split a part greedily where its table would be too wide
        chunk: list[str] = []
        for c in cols:
            if chunk and not _fits([_table(board, "", chunk + [c], False, None, strip, True)], width):
                chunks.append((chunk, strip))
                chunk = []
            chunk.append(c)
        chunks.append((chunk, strip))
    out = []
    for i, (cols, strip) in enumerate(chunks):
        name = short if i == 0 else f"{strip}* ({', '.join(c.removeprefix(strip) for c in cols)})" if strip \
            else f"({', '.join(cols)})"
        out.append(_table(board, name, cols, False, None, strip, True, rank_column=i == 0))
    return [*out, legend]


# What each column of a board measures, in full (`benchgen leaderboard --explain`, docs/metrics.md).
METRIC_LEGEND = {
    "mmd": "MMD, maximum mean discrepancy: the unbiased squared MMD between the real and synthetic volumes (by "
           "default with a linear kernel on voxels, as MONAI's MMDMetric); 0 when both sets come from one "
           "distribution, can be < 0",
    "frd": "FRD, Fréchet radiomics distance: the Fréchet distance between Gaussians fitted to 39 hand-written "
           "radiomic features per volume (intensity statistics, grey-level co-occurrence texture, filter "
           "responses), z-scored against the real set; benchgen's own feature set, not comparable with the FRD "
           "values published with the frd-score package",
    "fid": "FID, Fréchet distance between Gaussians fitted to deep features of a pretrained 3D network "
           "(MedicalNet, local weights); values of different extractors are never comparable",
    "kid": "KID, kernel inception distance: the unbiased squared MMD of radiomic features (by default) with a cubic "
           "polynomial kernel, averaged over random subsets (as torch-fidelity computes it); can be < 0",
    "ms-ssim": "MS-SSIM, multi-scale structural similarity: the mean over pairs of synthetic volumes (diversity: "
               "lower is more diverse); ranked by its distance to the real set's own value",
    "prdc": "PRDC, precision / recall / density / coverage (Naeem et al., 2020) on radiomic features: "
            "precision and density, how much of the synthetic set lies in the real set's k-nearest-neighbour "
            "neighbourhoods; recall and coverage, how much of the real set the synthetic set reaches",
    "memorization": "memorization.copies: the share of synthetic volumes closer to a training scan (normalized "
                    "cross-correlation over small shifts) than held-out real scans are (copying); "
                    "memorization.authpct: AuthPct (Alaa et al., 2022), the percentage of synthetic volumes "
                    "that are authentic (their nearest training scan is closer to another training scan than "
                    "to them), ranked by its distance to the held-out real scans' own value",
    "anatomy": "anatomy.w1: mean standardised Wasserstein-1 distance of regional tissue volumes (CSF, grey and "
               "white matter); anatomy.effect: the error between synthetic and real disease effect sizes per region",
    "utility": "utility: ΔAUC, the change in a condition classifier's AUC on held-out real scans when synthetic "
               "scans are added to its real training scans",
}


def metric_legend(column: str) -> str | None:
    """The full description of a board column (``prdc.recall`` and ``frd[ftd]`` by their metric's name)."""
    base = column.split("[", 1)[0]
    return METRIC_LEGEND.get(base) or METRIC_LEGEND.get(base.split(".", 1)[0])


def explain(boards: list[Board], width: int = 100) -> str:
    """The full legend of `boards`: what each column measures, and what the cells, ranks and marks mean."""
    import textwrap

    parts = []
    for b in boards:
        cols = sorted({c.split("[", 1)[0].split(".", 1)[0] for c in b.columns},
                      key=lambda m: next(i for i, c in enumerate(b.columns) if c.startswith(m)))
        items = [f"{m}: {metric_legend(m) or f'the metric plugin {m} (benchgen list {m})'}" for m in cols]
        items += ["", *b.caption().split(" · ")]
        lines = [b.title(), ""] + [textwrap.fill(t, width, initial_indent="  ", subsequent_indent="    ") if t else ""
                                   for t in items]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def select(boards: list[Board], metrics: str | list[str] | None) -> list[Board]:
    """Only these columns on every board: a list, or comma-separated text (``mmd,frd,prdc``)."""
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    return [b.select(metrics) for b in boards] if metrics else boards


def render_table(boards: list[Board], width: int = 100, metrics: list[str] | None = None) -> Any:
    """Rich renderables: each board in the widest layout that fits `width` (see :func:`board_tables`),
    only the `metrics` columns when given."""
    from rich.console import Group

    tables = []
    for b in boards:
        tables += board_tables(b.select(metrics), width)
        from benchgen.board import verdicts

        section = verdicts.rich_section(b.select(metrics))
        if section is not None:  # better / worse / not separated against the suite's baseline
            tables.append(section)
        samplers = sampler_table(b)
        if samplers is not None:  # a board of samplers of one model: their steps and speed after it
            tables.append(samplers)
    return Group(*tables)


def render_markdown(boards: list[Board]) -> str:
    parts = []
    for b in boards:
        head = _header(b)
        lines = [f"### {b.title()}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in _rows(b)]
        lines += ["", f"_{b.caption()}_"]
        from benchgen.board import verdicts

        if b.baseline:
            lines += ["", verdicts.markdown_section(b)]
        samplers = sampler_markdown(b)
        if samplers:
            lines += ["", samplers]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _flat(boards: list[Board]) -> list[dict[str, Any]]:
    out = []
    for b in boards:
        rows = [(g, info, cells) for g, info, cells in b.rows] + ([(REAL_ROW, {}, b.reference)] if b.reference else [])
        for gen, info, cells in rows:
            for c in b.columns:
                cell = cells.get(c)
                if cell is None:
                    continue
                rank_ci = b.rank_intervals(c).get(gen) if gen != REAL_ROW else None
                out.append({"suite": b.suite, "suite_version": b.version, "profile": b.profile, "protocol": b.protocol,
                            "n_real": b.n_real, "n_synthetic": b.n_synthetic, "generator": gen,
                            "board_rank": None if gen == REAL_ROW else b.point_rank(b.primary, gen),
                            "rank": None if gen == REAL_ROW else b.point_rank(c, gen),
                            "rank_ci": list(rank_ci) if rank_ci else None,
                            "config": info.get("config"), "metric": c,
                            "higher_is_better": b.higher_is_better.get(c), "direction": b.direction(c),
                            "mean": cell.mean, "ci_low": _nan_none(cell.lo), "ci_high": _nan_none(cell.hi),
                            "outside_ci": cell.outside, "n_seeds": cell.n, "status": cell.status,
                            "nonfinite_replicates": cell.nonfinite, "interval_resamples": cell.sources,
                            "fits": cell.fits, "variance_parts": cell.parts,
                            "primary": c == b.primary})
    return out


def _nan_none(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def render_csv(boards: list[Board]) -> str:
    rows = _flat(boards)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def _verdicts_json(board: Board) -> list[dict[str, Any]]:
    from benchgen.board import verdicts

    return verdicts.json_section(board)


def render_json(boards: list[Board]) -> str:
    heads = [{"suite": b.suite, "version": b.version, "profile": b.profile, "n_real": b.n_real,
              "n_synthetic": b.n_synthetic, "primary_metric": b.primary, "ignored_records": b.ignored,
              "protocol": b.protocol, "below_protocol": bool(b.below_protocol), "protocol_note": b.below_protocol,
              "caption": b.caption(), "baseline": b.baseline or None, "verdicts": _verdicts_json(b)} for b in boards]
    return json.dumps({"boards": heads, "cells": _flat(boards)}, indent=2)


HTML_STYLE = ("body{font-family:sans-serif;margin:1.5em}table.board{border-collapse:collapse}"
              "table.board td,table.board th{border:1px solid #ccc;padding:4px 8px;text-align:right;"
              "white-space:nowrap}table.board td:nth-child(2),table.board th:nth-child(2){text-align:left}"
              "table.board th{cursor:pointer;background:#f4f4f4}table.board td.best{font-weight:bold;"
              "background:#e6f4e6}table.board tfoot td{color:#666}caption{caption-side:bottom;text-align:left;"
              "font-size:.85em;color:#444;padding-top:4px;max-width:60em}table.samplers{border-collapse:collapse;"
              "margin-top:1em}table.samplers td,table.samplers th{border:1px solid #ccc;padding:4px 8px;"
              "text-align:right}table.samplers td:nth-child(-n+2),table.samplers th:nth-child(-n+2){text-align:left}")

# Click a header to sort its board (best first for a metric column, again to reverse); `?sort=COLUMN`
# sorts every board by that column on load (the browser test's hook). The real row (tfoot) stays put.
SORT_JS = """
function bgSort(table, col, desc) {
  const body = table.tBodies[0], rows = Array.from(body.rows);
  const key = r => { const c = r.cells[col]; const v = c.dataset.v;
    return v === undefined || v === '' ? c.textContent : parseFloat(v); };
  rows.sort((a, b) => { const x = key(a), y = key(b);
    const nx = typeof x !== 'number' || isNaN(x), ny = typeof y !== 'number' || isNaN(y);
    if (nx || ny) { if (nx && ny) return String(x).localeCompare(String(y)); return nx ? 1 : -1; }
    return desc ? y - x : x - y; });
  rows.forEach(r => body.appendChild(r));
  table.dataset.sorted = table.tHead.rows[0].cells[col].dataset.col + (desc ? ':desc' : ':asc');
}
document.querySelectorAll('table.board').forEach(t => {
  Array.from(t.tHead.rows[0].cells).forEach((th, i) => th.addEventListener('click', () => {
    const again = t.dataset.sorted === th.dataset.col + ':asc'; bgSort(t, i, again); }));
});
const bgWanted = new URLSearchParams(location.search).get('sort');
if (bgWanted) document.querySelectorAll('table.board').forEach(t => {
  const i = Array.from(t.tHead.rows[0].cells).findIndex(th => th.dataset.col === bgWanted);
  if (i >= 0) bgSort(t, i, false); });
"""


def board_html(b: Board, facts: str = "") -> str:
    """One board as a sortable HTML table: metric cells carry their sort key (data-v: lower is better,
    i.e. the value, its negative, or its distance to the real reference), the best cell of each column has
    class `best`, the real row sits in the table's footer."""
    e = html.escape
    heads = ["rank", "generator", *b.columns, "seeds", "config"]
    head = "".join(f"<th data-col='{e(c)}' title='click to sort'>{e(h)}</th>" for c, h in zip(heads, _header(b)))
    best = {c: b.best(c) for c in b.columns}
    body = []
    for rank, (gen, info, cells) in zip(b.ranks(), b.rows):
        key = b.point_rank(b.primary, gen)
        tds = [f"<td data-v='{'' if key is None else key}'>{e(rank)}</td>", f"<td>{e(gen)}</td>"]
        for c in b.columns:
            bad = b.badness(c, cells[c])
            cls = " class='best'" if gen in best[c] else ""
            tip = f" title='{e(cells[c].message or '')}'" if cells[c].message else ""
            text = e(b.cell_text(c, gen, cells[c]))
            tds.append(f"<td data-v='{'' if bad is None else repr(bad)}'{cls}{tip}>{text}</td>")
        tds += [f"<td data-v='{len(info['seeds'])}'>{len(info['seeds'])}</td>", f"<td>{e(info['config'])}</td>"]
        body.append(f"<tr data-generator='{e(gen)}'>{''.join(tds)}</tr>")
    foot = ""
    if b.reference:
        cells_ = "".join(f"<td>{e(b.reference[c].text()) if c in b.reference else ''}</td>" for c in b.columns)
        foot = f"<tfoot><tr><td></td><td>{e(REAL_ROW)}</td>{cells_}<td></td><td></td></tr></tfoot>"
    caption = (f"{facts} · " if facts else "") + b.caption() + (" · bold: rank 1 is supported (no row is better "
                                                                "beyond doubt) · click a header to sort")
    return (f"<table class='board'><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody>{foot}</table>")


def render_html(boards: list[Board]) -> str:
    from benchgen.board import verdicts

    body = "".join(f"<h2>{html.escape(b.title())}</h2>{board_html(b)}{verdicts.html_section(b)}{sampler_html(b)}"
                   for b in boards)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>benchgen leaderboard</title>" \
           f"<style>{HTML_STYLE}</style></head><body>{body}<script>{SORT_JS}</script></body></html>\n"


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "json": render_json, "html": render_html}
