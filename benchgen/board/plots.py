"""The board as pictures: metric bars with intervals, condition effects, utility trade-offs, Pareto fronts.
Volume montages and the atomic PNG writer are :mod:`benchgen.figures`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from benchgen.board.board import Board, Cell
from benchgen.board.formatting import REAL_ROW, fmt_num
from benchgen.board.samplers import sampler_rows
from benchgen.errors import DataError
from benchgen.figures import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def metric_figure(board: Board, columns: Sequence[str] | None = None) -> Figure:
    """One panel per metric column of a leaderboard: each generator's value with its 95% interval (a
    horizontal bar), a one-seed value outside its bootstrap interval hollow, the real set's value as a
    dashed line where the metric has one. Returns the matplotlib figure (the caller saves and closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = list(columns or board.columns)
    if not cols:
        raise DataError("a board without metric columns has nothing to plot")
    labels = [gen for gen, _, _ in board.rows]
    per_row = min(len(cols), 4)
    nrows = math.ceil(len(cols) / per_row)
    height = max(1.6, 0.32 * len(labels) + 0.9)
    fig, axes = plt.subplots(nrows, per_row, figsize=(3.2 * per_row, height * nrows), squeeze=False)
    for ax in axes.ravel()[len(cols):]:
        ax.axis("off")
    for ax, col in zip(axes.ravel(), cols):
        for y, (_gen, _, cells) in enumerate(board.rows):
            cell = cells.get(col)
            if cell is None or cell.mean is None:
                ax.text(0.02, y, cell.status if cell else "-", transform=ax.get_yaxis_transform(), fontsize=7,
                        va="center", color="#a00")
                continue
            if cell.lo is not None and cell.hi is not None and not (math.isnan(cell.lo) or math.isnan(cell.hi)):
                ax.plot([cell.lo, cell.hi], [y, y], color="#4477aa", lw=2, solid_capstyle="butt")
            ax.plot([cell.mean], [y], "o", color="#4477aa", mfc="white" if cell.outside else "#4477aa", ms=5)
        vals = [v for _, _, cells in board.rows for c in [cells.get(col)] if c and c.mean is not None
                for v in (c.mean, c.lo, c.hi) if v is not None and not math.isnan(v)]
        ref = board.reference.get(col)
        readable_axis(ax, vals + ([ref.mean] if ref is not None and ref.mean is not None else []))
        if ref is not None and ref.mean is not None:
            ax.axvline(ref.mean, color="#cc3311", ls="--", lw=1, label=REAL_ROW)
            ax.legend(fontsize=6, loc="best", frameon=False)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"{col} {board.arrow(col)}".strip(), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    if len(cols) > 1:  # one title per figure: a one-metric figure (the results page's) is titled by its page
        fig.suptitle(f"{board.suite} ({board.profile}): value and 95% interval per metric", fontsize=9)
    fig.tight_layout()
    return fig


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is at least `x` (> 0)."""
    k = math.floor(math.log10(x))
    return next(m * 10.0 ** k for m in (1, 2, 5, 10) if m * 10.0 ** k >= x * (1 - 1e-12))


def _tick_label(x: float, _pos: object = None) -> str:
    a = abs(x)
    if a >= 1e4 and math.isclose(math.log10(a), round(math.log10(a))):
        return f"{'-' if x < 0 else ''}1e{round(math.log10(a))}"
    return fmt_num(x)


def readable_axis(ax: Any, values: Sequence[float]) -> None:
    """An x axis a reader can read: fractions (every value in [0, 1]) on 0–1 with quarter ticks; a column
    where one row is far off (noise) on a symmetric-log scale whose linear part just holds the other rows
    (a round threshold, one tick per decade beyond it, at most five); anything else linear with a few ticks.
    Tick labels are plain numbers (1e4 from ten thousand up)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

    formatter = FuncFormatter(_tick_label)
    vals = [float(v) for v in values if math.isfinite(v)]
    if not vals:
        return
    if min(vals) >= 0.0 and max(vals) <= 1.0:
        ax.set_xlim(-0.05, 1.05)
        ax.xaxis.set_major_locator(FixedLocator([0.0, 0.25, 0.5, 0.75, 1.0]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:g}"))
        return
    mags = sorted(abs(v) for v in vals)
    typical = float(np.median(mags))
    near = [m for m in mags if m <= 50 * typical] if typical > 0 else [m for m in mags if m == 0.0]
    far = mags[-1]
    if typical > 0 and far > 50 * typical or typical == 0 and far > 0:
        linthresh = _nice_ceiling(max(max(near, default=0.0), far * 1e-6, 1e-12))
        ax.set_xscale("symlog", linthresh=linthresh, linscale=1.0)
        top = math.floor(math.log10(far))  # the last decade inside the data
        decades = [10.0 ** k for k in range(math.floor(math.log10(linthresh)) + 1, top + 1)
                   if 10.0 ** k >= 3 * linthresh]  # no decade crowding the threshold's own tick
        step = max(1, math.ceil(len(decades) / 4))
        ticks = [0.0, linthresh, *decades[len(decades) - 1::-step][::-1]]
        if min(vals) < -linthresh:
            ticks = [-linthresh, *ticks]
        ax.xaxis.set_major_locator(FixedLocator(sorted(set(ticks))))
        ax.xaxis.set_minor_locator(FixedLocator([]))
        ax.set_xlabel(f"linear up to {_tick_label(linthresh)}, logarithmic beyond", fontsize=6, color="#555")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.xaxis.set_major_formatter(formatter)


def metric_plot(board: Board, path: str | Path, columns: Sequence[str] | None = None) -> Path:
    """:func:`metric_figure` saved as a PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = metric_figure(board, columns)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def effect_figure(effects: Sequence[tuple[str, dict[str, dict[str, dict[str, float | None]]]]], title: str = "") -> Figure:
    """One panel per generator: the disease effects of its samples against the real ones (``anatomy.effect``
    details: disease -> tissue.region -> d_real, d_synthetic), one colour per disease, the identity line
    dashed. Points on the line: the generator reproduces the effect; on the horizontal axis: it ignores it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not effects:
        raise DataError("no anatomy.effect details to plot")
    per_row = min(len(effects), 4)
    nrows = math.ceil(len(effects) / per_row)
    fig, axes = plt.subplots(nrows, per_row, figsize=(2.8 * per_row, 2.8 * nrows), squeeze=False)
    for ax in axes.ravel()[len(effects):]:
        ax.axis("off")
    points = [v for _, table in effects for per in table.values() for d in per.values()
              for v in (d.get("d_real"), d.get("d_synthetic")) if v is not None and math.isfinite(v)]
    lim = max([abs(v) for v in points] + [0.5]) * 1.1
    colours = ["#cc3311", "#4477aa", "#228833", "#aa3377"]
    for ax, (gen, table) in zip(axes.ravel(), effects):
        ax.plot([-lim, lim], [-lim, lim], ls="--", color="#888", lw=0.8)
        ax.axhline(0, color="#ccc", lw=0.5)
        ax.axvline(0, color="#ccc", lw=0.5)
        for colour, (disease, per) in zip(colours, table.items()):
            pairs = [(d["d_real"], d["d_synthetic"]) for d in per.values()
                     if d.get("d_real") is not None and d.get("d_synthetic") is not None]
            if pairs:
                x, y = zip(*pairs)
                ax.scatter(x, y, s=9, color=colour, label=disease, alpha=0.8)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_title(gen, fontsize=9)
        ax.set_xlabel("d in real scans", fontsize=7)
        ax.set_ylabel("d in synthetic scans", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, frameon=False, loc="upper left")
    fig.suptitle(title or "disease effects (Cohen's d per region and tissue), synthetic vs real", fontsize=9)
    fig.tight_layout()
    return fig


def effect_plot(effects: Sequence[tuple[str, dict[str, dict[str, dict[str, float | None]]]]], path: str | Path,
                title: str = "") -> Path:
    """:func:`effect_figure` saved as a PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = effect_figure(effects, title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def tradeoff_figure(board: Board, utility: str, others: Sequence[str], title: str = "") -> Figure:
    """One panel per column of `others` (a fidelity metric, memorization): each generator's downstream utility
    (y) against it (x), both with their 95% intervals as error bars — the trade-off a user chooses on.
    Rows without a utility value (an unconditional generator: skipped) are left out and named below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not others:
        raise DataError("a trade-off plot needs a column to put beside utility")

    def span(cell: Cell | None) -> tuple[float, float, float] | None:
        if cell is None or cell.mean is None or not math.isfinite(cell.mean):
            return None
        mean, lo, hi = cell.mean, cell.lo, cell.hi
        lo = mean if lo is None or not math.isfinite(lo) else lo
        hi = mean if hi is None or not math.isfinite(hi) else hi
        return mean, max(mean - lo, 0.0), max(hi - mean, 0.0)

    fig, axes = plt.subplots(1, len(others), figsize=(4.2 * len(others), 3.6), squeeze=False)
    colours = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#000000"]
    missing = []
    for ax, col in zip(axes[0], others):
        for k, (gen, _, cells) in enumerate(board.rows):
            u, v = span(cells.get(utility)), span(cells.get(col))
            if u is None or v is None:
                if col == others[0]:
                    missing.append(gen)
                continue
            colour = colours[k % len(colours)]
            ax.errorbar([v[0]], [u[0]], xerr=[[v[1]], [v[2]]], yerr=[[u[1]], [u[2]]], fmt="o", ms=5, capsize=2,
                        color=colour, label=gen)
            ax.annotate(gen, (v[0], u[0]), textcoords="offset points", xytext=(4, 4), fontsize=7, color=colour)
        ax.axhline(0, color="#888", ls="--", lw=0.8)  # ΔAUC 0: the synthetic scans neither help nor hurt
        ax.set_xlabel(f"{col} {board.arrow(col)}".strip(), fontsize=8)
        ax.set_ylabel(f"{utility} {board.arrow(utility)}".strip(), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    note = f" (no {utility}: {', '.join(missing)})" if missing else ""
    fig.suptitle((title or f"{board.suite} ({board.profile}): utility against fidelity and memorization, "
                  "95% intervals") + note, fontsize=9)
    fig.tight_layout()
    return fig


def tradeoff_plot(board: Board, path: str | Path, utility: str, others: Sequence[str], title: str = "") -> Path:
    """:func:`tradeoff_figure` saved as a PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = tradeoff_figure(board, utility, others, title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (cost, badness) points that no other point dominates — none is at most as slow and at most
    as bad, and strictly better in one of the two — in order of cost. Both coordinates: lower is better."""
    if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in points):
        raise DataError("a Pareto front needs finite (seconds, quality) points")

    def dominated(i: int) -> bool:
        x, y = points[i]
        return any(x2 <= x and y2 <= y and (x2 < x or y2 < y) for j, (x2, y2) in enumerate(points) if j != i)

    return sorted((i for i in range(len(points)) if not dominated(i)), key=lambda i: points[i])


def pareto_points(board: Board, column: str) -> tuple[list[tuple[str, float, Cell]], list[tuple[str, Cell]]]:
    """The samplers to put on the front — (generator, seconds per volume, cell) of every row with steps, a
    measured time and a value of `column` — and the rows without steps (holdout, noise) with their cells."""
    cells = {gen: cs.get(column) for gen, _, cs in board.rows}
    samplers: list[tuple[str, float, Cell]] = []
    others: list[tuple[str, Cell]] = []
    for r in sampler_rows(board):
        cell = cells.get(r.generator)
        if cell is None or cell.mean is None or not math.isfinite(cell.mean):
            continue
        if r.steps is None:
            others.append((r.generator, cell))
        elif r.seconds_per_volume is not None and r.seconds_per_volume > 0:
            samplers.append((r.generator, r.seconds_per_volume, cell))
    return samplers, others



def _value(cell: Cell) -> float:
    """The value of a cell :func:`pareto_points` kept (it keeps only cells with one)."""
    assert cell.mean is not None
    return float(cell.mean)


def pareto_figure(board: Board, column: str | None = None, title: str = "") -> Figure:
    """Quality (`column`, the primary metric by default, with its 95% interval as error bars) against seconds
    per sampled volume (log axis) of a board's samplers, every point labelled; the Pareto front (no other
    sampler is both faster and better) joined by a line and its points filled. Rows without steps
    (holdout, noise) are dotted horizontal lines where they fall near the samplers, named in the title if not."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    col = column or board.primary
    samplers, others = pareto_points(board, col)
    if len(samplers) < 2:
        raise DataError(f"a Pareto plot needs two samplers or more with seconds per volume and a value of {col}")
    badness = [board.badness(col, cell) for _, _, cell in samplers]
    valid = [k for k, b in enumerate(badness) if b is not None]  # a column without a direction has no front
    front = [valid[i] for i in pareto_front([(samplers[k][1], float(badness[k] or 0.0)) for k in valid])]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    values = [_value(c) for _, _, c in samplers]
    yspan = (max(values) - min(values)) or 1.0
    below = _dodged([(x, v) for (_, x, _), v in zip(samplers, values)], yspan)
    lows, highs = [], []
    for k, (gen, x, cell) in enumerate(samplers):
        mean = _value(cell)
        lo, hi = cell.lo, cell.hi
        lo = mean if lo is None or not math.isfinite(lo) else lo
        hi = mean if hi is None or not math.isfinite(hi) else hi
        lows.append(lo)
        highs.append(hi)
        on = k in front
        ax.errorbar([x], [mean], yerr=[[max(mean - lo, 0.0)], [max(hi - mean, 0.0)]], fmt="o", ms=6 if on else 5,
                    capsize=2, color="#4477aa" if on else "#888888", mfc="#4477aa" if on else "white")
        ax.annotate(gen, (x, mean), textcoords="offset points", xytext=(5, -11) if k in below else (5, 4),
                    fontsize=7, color="#224466" if on else "#555555")
    ax.plot([samplers[i][1] for i in front], [_value(samplers[i][2]) for i in front], color="#4477aa", lw=1.2,
            zorder=0, label="Pareto front")
    span = max(highs) - min(lows) or abs(max(highs)) or 1.0
    ylim = (min(lows) - 0.15 * span, max(highs) + 0.15 * span)
    off = []
    for gen, cell in others:
        value = _value(cell)
        if ylim[0] - span <= value <= ylim[1] + span:
            ax.axhline(value, color="#cc3311", ls=":", lw=1)
            ax.annotate(f"{gen} (no sampler)", (1, value), xycoords=("axes fraction", "data"), ha="right",
                        va="bottom", fontsize=7, color="#cc3311")
            ylim = (min(ylim[0], value - 0.05 * span), max(ylim[1], value + 0.05 * span))
        else:
            off.append(f"{gen} {value:.3g}")
    ax.set_ylim(*ylim)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per sampled volume (log)", fontsize=8)
    ax.set_ylabel(f"{col} {board.arrow(col)} (95% interval)".strip(), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False, loc="best")
    note = f" · off the scale: {', '.join(off)}" if off else ""
    ax.set_title((title or f"{board.suite} ({board.profile}): quality against sampling time") + note, fontsize=9)
    fig.tight_layout()
    return fig


def _dodged(points: Sequence[tuple[float, float]], yspan: float) -> set[int]:
    """Points whose label goes below the point: those close (in log x and y) to an earlier point labelled above."""
    above: list[tuple[float, float]] = []
    below = set()
    for k, (x, y) in enumerate(points):
        if any(abs(math.log10(x / x2)) < 0.12 and abs(y - y2) < 0.06 * yspan for x2, y2 in above):
            below.add(k)
        else:
            above.append((x, y))
    return below


def pareto_plot(board: Board, path: str | Path, column: str | None = None, title: str = "") -> Path:
    """:func:`pareto_figure` saved as a PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = pareto_figure(board, column, title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)
