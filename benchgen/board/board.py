"""A board and its cells: one table of generators (rows) by metric columns, with what is better, the ranks the data
support, and the legend every renderer shows under it. :mod:`benchgen.board.build` makes boards from records.

A cell is the mean over seeds with a 95% interval (printed as ``value [low, high]``; bootstrap intervals can be
asymmetric). A column with a reference (the real row's value, or a known target) is ranked by the distance to it
(``≈``, closest is best), not by ``↑``/``↓``. Two rows are put in order only when the paired bootstrap separates
them (:func:`separated_pairs`); rows that cannot be separated share ranks.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchgen.board import intervals
from benchgen.board.formatting import ARROWS, OUTSIDE, REAL_ROW, fmt_interval
from benchgen.board.significance import LEVEL, holm_adjusted, p_value
from benchgen.functional.bootstrap import percentile_ci


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
    def target_ends(self, column: str) -> list[float]:
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

    def badness_at(self, column: str, cell: Cell, ref: float | None) -> float | None:
        """:meth:`badness` with a ≈ column's target taken as `ref` (one end of the real row's interval)."""
        if cell.mean is None:
            return None
        if self.direction(column) == "closest":
            return abs(cell.mean - (self.target(column) or 0.0 if ref is None else ref))
        return self.badness(column, cell)

    def better(self, column: str, a: Cell, b: Cell) -> bool:
        """`a` is better than `b` on `column` beyond the 95% level: the 95% percentile interval of the paired
        bootstrap differences of their badness (replicate k of both resamples the same real subjects) lies
        below 0; without replicates on both, their intervals must be disjoint."""
        bad_a, bad_b = self.badness(column, a), self.badness(column, b)
        if bad_a is None or bad_b is None:
            return False
        refs = self.target_ends(column) if self.direction(column) == "closest" else [None]
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
        :meth:`better`, Holm-adjusted over the column's pairs: :func:`separated_pairs`). Rows that
        cannot be separated share ranks."""
        if column not in self._rank_memo:
            cells = {g: cs[column] for g, _, cs in self.rows
                     if column in cs and self.badness(column, cs[column]) is not None}
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


def pair_p(board: Board, column: str, a: Cell, b: Cell) -> float | None:
    """The two-sided p-value of "a and b are equally good on `column`" from their paired replicates (the
    larger one over both ends of a ≈ column's real-row interval); None without replicates on both."""
    if a.replicates is None or b.replicates is None or len(a.replicates) != len(b.replicates):
        return None
    closest = board.direction(column) == "closest"
    ps = []
    for ref in (list(board.target_ends(column)) if closest else [None]):
        ra, rb = board._badness_replicates(column, a, ref), board._badness_replicates(column, b, ref)
        bad_a, bad_b = board.badness_at(column, a, ref), board.badness_at(column, b, ref)
        if ra is None or rb is None or bad_a is None or bad_b is None:
            return None
        ps.append(p_value(ra - rb, bad_a - bad_b))
    return None if any(p is None for p in ps) else max(p for p in ps if p is not None)


def separated_pairs(board: Board, column: str, cells: dict[str, Cell]) -> set[tuple[str, str]]:
    """(better, worse) row pairs a board may put in a strict order on `column`: the paired percentile rule
    (:meth:`Board.better`) holds and, where both rows have replicates, the pair's p-value stays below the
    level after a Holm adjustment over every pair of the column with replicates — so a board of many rows of
    one distribution claims an order about as rarely as a board of two."""
    rows = list(cells)
    pairs = [(g, h) for i, g in enumerate(rows) for h in rows[i + 1:]]
    ps = [pair_p(board, column, cells[g], cells[h]) for g, h in pairs]
    tested = [k for k, p in enumerate(ps) if p is not None]
    adjusted = dict(zip(tested, holm_adjusted([ps[k] or 0.0 for k in tested])))
    out = set()
    for k, (g, h) in enumerate(pairs):
        if k in adjusted and adjusted[k] >= LEVEL:
            continue
        if board.better(column, cells[g], cells[h]):
            out.add((g, h))
        elif board.better(column, cells[h], cells[g]):
            out.add((h, g))
    return out
