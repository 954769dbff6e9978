"""ΔAUC against the synthetic:real ratio, per generator and classifier, from stored `utility` records.

    python -m benchgen_metrics.utility_plot RESULTS.sqlite SUITE OUT.png [--profile quick]

One panel per classifier; per generator ΔAUC at every ratio of ``details.ratios`` with its 95 % interval
(the mean over evaluation seeds of the estimates and of the interval bounds); a dashed line at 0.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# (generator, classifier) -> [(ratio, ΔAUC, low, high)], ratios ascending
RatioRows = dict[tuple[str, str], list[tuple[float, float, float | None, float | None]]]


def ratio_rows(records: Sequence[dict[str, Any]]) -> RatioRows:
    """The ratio table of every scored `utility` record, averaged over evaluation seeds."""
    acc: dict[tuple[str, str], dict[float, list[tuple[float, float | None, float | None]]]] = defaultdict(
        lambda: defaultdict(list))
    for rec in records:
        details = rec.get("details") or {}
        if rec.get("metric_plugin") != "utility" or rec.get("status") != "ok" or "ratios" not in details:
            continue
        name = str(details.get("classifier", {}).get("backend", rec["metric"]))
        for ratio, cell in details["ratios"].items():
            if "delta_auc" in cell:
                lo, hi = cell["ci"] if cell.get("ci") else (None, None)
                acc[(rec["generator"], name)][float(ratio)].append((cell["delta_auc"], lo, hi))
    out: RatioRows = {}
    for key, by_ratio in acc.items():
        rows = []
        for ratio in sorted(by_ratio):
            vals = by_ratio[ratio]
            los, his = [v[1] for v in vals], [v[2] for v in vals]
            rows.append((ratio, float(np.mean([v[0] for v in vals])), _mean(los), _mean(his)))
        out[key] = rows
    return out


def _mean(values: list[float | None]) -> float | None:
    """The mean, or None when a value is missing (a cell without an interval)."""
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known and len(known) == len(values) else None


def ratio_figure(rows: RatioRows, title: str = "") -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classifiers = sorted({c for _, c in rows})
    generators = sorted({g for g, _ in rows})
    if not classifiers:
        raise ValueError("no utility record with a ratio table (details.ratios) to plot")
    fig, axes = plt.subplots(1, len(classifiers), figsize=(4.2 * len(classifiers), 3.6), squeeze=False, sharey=True)
    width = 0.06 * (len(generators) - 1)
    for ax, clf in zip(axes[0], classifiers):
        for k, gen in enumerate(generators):
            pts = rows.get((gen, clf))
            if not pts:
                continue
            shift = 2.0 ** (k * 0.06 - width / 2)  # dodge the generators on the log axis
            x = np.array([p[0] for p in pts]) * shift
            y = np.array([p[1] for p in pts])
            lo = np.array([p[2] if p[2] is not None else p[1] for p in pts])
            hi = np.array([p[3] if p[3] is not None else p[1] for p in pts])
            ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", ms=4, capsize=2, lw=1, label=gen)
        ax.axhline(0.0, color="grey", ls="--", lw=0.8)
        ax.set_xscale("log", base=2)
        ratios = sorted({p[0] for (_, c), pts in rows.items() if c == clf for p in pts})
        ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
        ax.set_xlabel("synthetic : real scans per class", fontsize=8)
        ax.set_title(clf, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("ΔAUC (augmented − real only) ↑", fontsize=8)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title or "utility: ΔAUC against the synthetic:real ratio (95 % intervals)", fontsize=9)
    fig.tight_layout()
    return fig


def ratio_plot(rows: RatioRows, path: str | Path, title: str = "") -> Path:
    import matplotlib.pyplot as plt

    from benchgen.figures import save_figure

    fig = ratio_figure(rows, title)
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    from benchgen.results.store import ResultStore

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("suite")
    ap.add_argument("out", type=Path)
    ap.add_argument("--profile", default=None)
    args = ap.parse_args(argv)
    records = ResultStore(args.results).records(suite=args.suite, profile=args.profile)
    print(ratio_plot(ratio_rows(records), args.out, f"{args.suite}: ΔAUC against the synthetic:real ratio"))


if __name__ == "__main__":
    main()
