"""Decisions against a baseline: for every other row and metric, the paired difference, its 95% interval, a
p-value, the Holm adjustment over the board's comparisons, and one word — better, worse or not separated.

Everything comes from the cells' bootstrap replicates, which are paired across rows (replicate b of every cell
resampled the same real subjects, and for rows fitted several times the same fit draw: benchgen.functional.hierarchical).
The difference is taken in "badness" (lower is better: the value, its negative, or the distance to a ≈
column's target), so a negative difference means the row is better than the baseline. The interval is the
percentile interval of the paired differences, and the p-value its two-sided counterpart: twice the share of
replicates beyond 0 (0 when all lie on one side: the difference is clear at the bootstrap's resolution, 2/B).
A normal approximation was tried first and dropped: it missed KID's and FRD's skewed differences (a noise row
not separated from held-out scans at n = 10). For a ≈ column with a real-row interval, the comparison must
hold at both ends of it: the larger p-value of the two counts. Cells without replicates give no decision
("no replicates").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchgen.board.board import Board, pair_p
from benchgen.board.formatting import fmt_num
from benchgen.board.significance import LEVEL, holm_adjusted
from benchgen.errors import ConfigError
from benchgen.functional.bootstrap import percentile_ci

WORDS = ("better", "worse", "not separated")


@dataclass
class Verdict:
    row: str
    baseline: str
    metric: str
    difference: float | None  # value(row) - value(baseline), in the metric's own units
    lo: float | None  # 95% interval of that difference
    hi: float | None
    p: float | None  # two-sided, unadjusted
    p_adjusted: float | None = None  # Holm over every comparison of the same call
    word: str = "not separated"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "baseline": self.baseline, "metric": self.metric, "difference": self.difference,
                "ci_low": self.lo, "ci_high": self.hi, "p": self.p, "p_holm": self.p_adjusted, "verdict": self.word}


def compare(board: Board, column: str, row: str, baseline: str) -> Verdict:
    """The unadjusted comparison of `row` with `baseline` on `column` (the word is set by :func:`holm`)."""
    cells = {g: cs.get(column) for g, _, cs in board.rows}
    a, b = cells.get(row), cells.get(baseline)
    v = Verdict(row, baseline, column, None, None, None, None, word="no value")
    if a is None or b is None or a.mean is None or b.mean is None:
        return v
    v.difference = a.mean - b.mean
    if a.replicates is None or b.replicates is None or len(a.replicates) != len(b.replicates):
        v.word = "no replicates"
        return v
    ci = percentile_ci(a.replicates - b.replicates)
    v.lo, v.hi = ci if ci else (None, None)
    if board.direction(column) is None:
        v.word = "no direction"
        return v
    closest = board.direction(column) == "closest"
    refs: list[float | None] = list(board.target_ends(column)) if closest else [None]
    v.p = pair_p(board, column, a, b)
    sign = np.sign([(board.badness_at(column, a, r) or 0.0) - (board.badness_at(column, b, r) or 0.0)
                    for r in refs])
    v.word = "worse" if (sign > 0).all() else "better" if (sign < 0).all() else "not separated"
    return v


def holm(verdicts: list[Verdict], level: float = LEVEL) -> list[Verdict]:
    """Holm's step-down adjustment over every verdict with a p-value; those whose adjusted p stays at or above
    `level` become "not separated" (the others keep better / worse)."""
    tested = [v for v in verdicts if v.p is not None]
    for v, adjusted in zip(tested, holm_adjusted([v.p or 0.0 for v in tested])):
        v.p_adjusted = adjusted
        if adjusted >= level:
            v.word = "not separated"
    return verdicts


def board_verdicts(board: Board, baseline: str, metrics: list[str] | None = None) -> list[Verdict]:
    """Every other row against `baseline` on every column (or `metrics`), Holm-adjusted together."""
    rows = [g for g, _, _ in board.rows]
    if baseline not in rows:
        raise ConfigError(f"baseline '{baseline}' is not a row of the {board.suite} board",
                          f"rows: {', '.join(rows)}")
    cols = metrics or board.columns
    return holm([compare(board, c, g, baseline) for g in rows if g != baseline for c in cols])


def pair_verdicts(board: Board, row: str, other: str, metrics: list[str] | None = None) -> list[Verdict]:
    """`row` against `other` on every column (or `metrics`), Holm-adjusted over those columns."""
    rows = [g for g, _, _ in board.rows]
    for g in (row, other):
        if g not in rows:
            raise ConfigError(f"no row '{g}' on the {board.suite} board", f"rows: {', '.join(rows)}")
    return holm([compare(board, c, row, other) for c in (metrics or board.columns)])


def verdict_lines(verdicts: list[Verdict]) -> list[str]:
    """One line per comparison: ``ddpm vs gaussian · frd: −120 [−180, −60] · p 0.0004 (Holm 0.003) · better``."""
    out = []
    for v in verdicts:
        diff = "" if v.difference is None else fmt_num(v.difference)
        ci = f" [{fmt_num(v.lo)}, {fmt_num(v.hi)}]" if v.lo is not None and v.hi is not None else ""
        p = f" · p {v.p:.2g} (Holm {v.p_adjusted:.2g})" if v.p is not None and v.p_adjusted is not None else ""
        out.append(f"{v.row} vs {v.baseline} · {v.metric}: {diff}{ci}{p} · {v.word}")
    return out


def summary_table(verdicts: list[Verdict]) -> tuple[list[str], list[list[str]]]:
    """The compact verdict section: one row per compared row, one column per metric, one word per cell."""
    rows = list(dict.fromkeys(v.row for v in verdicts))
    metrics = list(dict.fromkeys(v.metric for v in verdicts))
    word = {(v.row, v.metric): v.word for v in verdicts}
    return ["vs " + verdicts[0].baseline if verdicts else "", *metrics], [
        [r, *[word.get((r, m), "") for m in metrics]] for r in rows]


# ------------------------------------------------------------------------------- the board's verdict section
def section_caption(verdicts: list[Verdict], baseline: str) -> str:
    tested = sum(v.p is not None for v in verdicts)
    return (f"each row against {baseline} on each metric: better / worse when the Holm-adjusted p (over {tested} "
            f"comparisons) is below {LEVEL:g}, from the paired bootstrap of the difference; `benchgen compare` "
            "prints differences, intervals and p-values")


def markdown_section(board: Board) -> str:
    if not board.baseline:
        return ""
    verdicts = board_verdicts(board, board.baseline)
    head, rows = summary_table(verdicts)
    lines = [f"#### verdicts vs {board.baseline}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines + ["", f"_{section_caption(verdicts, board.baseline)}_"])


def rich_section(board: Board) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if not board.baseline:
        return None
    verdicts = board_verdicts(board, board.baseline)
    head, rows = summary_table(verdicts)
    t = Table(title=Text(f"verdicts vs {board.baseline}"), title_justify="left", box=box.SIMPLE_HEAD,
              caption=Text(section_caption(verdicts, board.baseline)), caption_justify="left", show_edge=False)
    for h in head:
        t.add_column(Text(h))
    for r in rows:
        t.add_row(*map(Text, r))
    return t


def html_section(board: Board) -> str:
    import html

    if not board.baseline:
        return ""
    e = html.escape
    verdicts = board_verdicts(board, board.baseline)
    head, rows = summary_table(verdicts)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (f"<table class='verdicts'><caption>{e(section_caption(verdicts, board.baseline))}</caption><thead><tr>"
            + "".join(f"<th>{e(h)}</th>" for h in head) + f"</tr></thead><tbody>{body}</tbody></table>")


def json_section(board: Board) -> list[dict[str, Any]]:
    return [v.as_dict() for v in board_verdicts(board, board.baseline)] if board.baseline else []

