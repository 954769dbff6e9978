"""`benchgen compare SUITE A B`: one row against another on every metric (or one), with a decision."""

from __future__ import annotations

from pathlib import Path

import typer

from benchgen.cli.app import app, handle_errors, out
from benchgen.errors import ConfigError


@app.command("compare")
@handle_errors
def compare_cmd(
    suite: str = typer.Argument(..., help="A suite file (its configs as the file stands)."),
    row: str = typer.Argument(..., help="The generator label to judge."),
    other: str = typer.Argument(..., help="The generator label it is compared with."),
    metric: list[str] = typer.Option(None, "--metric", "-m", help="Only this column (repeatable; a prefix such "
                                     "as prdc takes every prdc.* column)."),
    profile: str = typer.Option("auto", "--profile", "-p", help="The suite's profile."),
    results: Path = typer.Option(None, "--results",
                                 help="SQLite result store [default: $BENCHGEN_HOME/results.sqlite]"),
) -> None:
    """Paired difference ROW − OTHER per metric, its 95% interval, p-value (Holm-adjusted over the metrics
    compared) and one word: better, worse or not separated (from the paired, fit-resampling bootstrap)."""
    from benchgen import paths
    from benchgen.board import verdicts
    from benchgen.board.select import suite_boards
    from benchgen.results.store import open_existing
    from benchgen.suite.load import load_suite

    store = open_existing(results or paths.default_results())
    try:
        boards = suite_boards(load_suite(suite, profile), store)
    finally:
        store.close()
    if not boards:
        raise ConfigError(f"no results for {suite}", "run `benchgen run SUITE` first")
    for board in boards:
        cols = board.select(metric or None).columns
        found = verdicts.pair_verdicts(board, row, other, cols)
        out.print(board.title(), markup=False, highlight=False)
        for line in verdicts.verdict_lines(found):
            out.print("  " + line, markup=False, highlight=False)
        out.print(f"  difference = {row} − {other}; p two-sided, Holm over {sum(v.p is not None for v in found)} "
                  "metrics; better / worse at adjusted p < 0.05", markup=False, highlight=False)
