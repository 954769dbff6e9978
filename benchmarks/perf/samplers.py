"""How few steps each fast sampler needs to score like DDPM-1000, and how much faster it is (docs/performance.md).

    python benchmarks/perf/samplers.py [--suite benchmarks/sampler_tradeoff.toml] [--profile quick]
                                       [--results PATH] [--reference ddpm]

Reads the suite's board as the file stands from the result store (``$BENCHGEN_HOME/results.sqlite`` unless
--results; what `benchgen leaderboard --suite FILE` shows) after a `benchgen run` of it, and prints for each fast
sampler family (ddim, pndm, rflow: the rows with steps whose sampler is not the reference row's) and every metric
column the fewest steps whose 95% interval overlaps the reference row's (DDPM-1000), with its speed-up: the
reference's seconds per volume over its own, as measured when the samples were drawn. Beside it, the fewest steps
that the paired bootstrap does not separate from the reference (the board's rank test: neither is better beyond
the 95% level), a stronger criterion than overlap.

Overlap is weak evidence of equal quality: two 95% intervals can overlap while the paired difference is
significant, and wide intervals (few volumes) overlap easily; it says "not shown to differ", never "equal".
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parents[1] / "sampler_tradeoff.toml"


def overlaps(a: Any, b: Any) -> bool | None:
    """Whether two cells' intervals overlap (None when either has no interval)."""
    spans = []
    for c in (a, b):
        if c is None or c.mean is None or c.lo is None or c.hi is None or math.isnan(c.lo) or math.isnan(c.hi):
            return None
        spans.append((c.lo, c.hi))
    (lo_a, hi_a), (lo_b, hi_b) = spans
    return lo_a <= hi_b and lo_b <= hi_a


@dataclass
class Answer:
    family: str
    column: str
    overlap: Any  # the SamplerRow with the fewest steps whose interval overlaps the reference's, or None
    unseparated: Any  # the SamplerRow with the fewest steps the paired bootstrap does not separate, or None
    tried: list[int]  # the family's step counts with a value of the column

    def speedup(self, reference_spv: float | None, row: Any) -> str:
        if row is None or not reference_spv or not row.seconds_per_volume:
            return "–"
        return f"{reference_spv / row.seconds_per_volume:.0f}×"


def families(board: Any, reference: str) -> dict[str, list[Any]]:
    """Sampler name -> its rows with steps, fewest steps first; the reference row and its sampler left out."""
    from benchgen.board.samplers import sampler_rows

    rows = sampler_rows(board)
    ref = next((r for r in rows if r.generator == reference), None)
    if ref is None:
        from benchgen.errors import ConfigError

        raise ConfigError(f"--reference: no row '{reference}' with a sampler on the {board.suite} board",
                          f"rows: {', '.join(g for g, _, _ in board.rows)}")
    out: dict[str, list[Any]] = {}
    for r in rows:
        if r.steps is not None and r.sampler != ref.sampler:
            out.setdefault(r.sampler, []).append(r)
    return {k: sorted(v, key=lambda r: r.steps) for k, v in sorted(out.items())}


def answer(board: Any, reference: str, family: str, rows: list[Any], column: str) -> Answer:
    cells = {g: cs.get(column) for g, _, cs in board.rows}
    ref = cells.get(reference)
    scored = [r for r in rows if (c := cells.get(r.generator)) is not None and c.mean is not None]
    overlap = next((r for r in scored if overlaps(cells[r.generator], ref)), None)
    unseparated = next((r for r in scored if ref is not None and ref.mean is not None
                        and not board.better(column, ref, cells[r.generator])
                        and not board.better(column, cells[r.generator], ref)), None)
    return Answer(family, column, overlap, unseparated, [r.steps for r in scored])


def report(board: Any, reference: str) -> str:
    from benchgen.board.formatting import fmt_interval, fmt_num
    from benchgen.board.samplers import sampler_rows

    rows = {r.generator: r for r in sampler_rows(board)}
    ref_spv = rows[reference].seconds_per_volume if reference in rows else None
    fams = families(board, reference)
    ref_cells = next(cs for g, _, cs in board.rows if g == reference)
    lines = [f"{board.title()} · reference {reference} ({rows[reference].sampler}-{rows[reference].steps}, "
             f"{fmt_num(ref_spv) if ref_spv else '?'} s/volume)", ""]
    head = ["metric", f"{reference} (95% interval)"] + [f"{f}: overlap" for f in fams] + [f"{f}: not separated"
                                                                                           for f in fams]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(a: Answer, row: Any) -> str:
        if row is None:
            return f"none of {'/'.join(map(str, a.tried))}" if a.tried else "no values"
        return f"{row.steps} ({a.speedup(ref_spv, row)})"

    for column in board.columns:
        ref = ref_cells.get(column)
        got = [answer(board, reference, f, rs, column) for f, rs in fams.items()]
        lines.append("| " + " | ".join([f"{column} {board.arrow(column)}".strip(),
                                        fmt_interval(ref.mean, ref.lo, ref.hi) if ref else "–",
                                        *[cell(a, a.overlap) for a in got], *[cell(a, a.unseparated) for a in got]])
                     + " |")
    lines += ["", "Cells: the fewest steps of that sampler whose 95% interval overlaps the reference's (overlap), or "
              "that the paired bootstrap does not separate from it (not separated: neither better beyond the 95% "
              "level), with the speed-up in seconds per volume (reference ÷ that row); 'none of 10/25/…' lists the "
              "steps tried. Intervals: the board's, one seed: the metric's bootstrap over real test subjects and "
              "synthetic volumes (more seeds: pooled replicates). Overlap is weak evidence: not shown to differ, "
              "not shown equal.", "", "Each sampler's seconds per volume:"]
    for f, rs in fams.items():
        lines.append(f"  {f}: " + ", ".join(f"{r.steps} steps {fmt_num(r.seconds_per_volume)} s "
                                            f"({ref_spv / r.seconds_per_volume:.0f}×)" if r.seconds_per_volume
                                            and ref_spv else f"{r.steps} steps ?" for r in rs))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default=str(SUITE))
    ap.add_argument("--profile", default="auto")
    ap.add_argument("--results", type=Path, default=None, help="result store (default $BENCHGEN_HOME/results.sqlite)")
    ap.add_argument("--reference", default="ddpm", help="the row every sampler is compared with (DDPM-1000)")
    args = ap.parse_args(argv)

    from benchgen import paths
    from benchgen.board.select import suite_boards
    from benchgen.errors import BenchgenError
    from benchgen.results.store import open_existing
    from benchgen.suite.load import load_suite

    try:
        suite = load_suite(args.suite, args.profile)
        store = open_existing(args.results or paths.default_results())
        try:
            boards = suite_boards(suite, store)
        finally:
            store.close()
        if not boards:
            print(f"no results for {suite.name} (profile {suite.profile}): run `benchgen run {args.suite}` first",
                  file=sys.stderr)
            return 1
        for b in boards:
            print(report(b, args.reference))
    except BenchgenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
