"""A suite's boards as its file stands: its current records (:func:`benchgen.results.cells.current_records`)
ranked, with the file's baseline and primary metric."""

from __future__ import annotations

from benchgen.board.board import Board
from benchgen.board.build import build_boards
from benchgen.results.cells import current_records
from benchgen.results.store import ResultStore
from benchgen.suite.model import Suite


def suite_boards(suite: Suite, store: ResultStore, all_configs: bool = False,
                 data_fp: str | None = None) -> list[Board]:
    """The leaderboard(s) of `suite` as it stands (see :func:`current_records`)."""
    records, hidden = current_records(suite, store, all_configs, data_fp)
    return as_the_file_says(suite, build_boards(records, hidden=hidden))


def as_the_file_says(suite: Suite, boards: list[Board]) -> list[Board]:
    """Boards with the suite file's baseline (where it is a row) and primary metric (records keep the one they
    were scored under: a file that changed its headline re-ranks without recomputing)."""
    for b in boards:
        b.baseline = suite.baseline if any(g == suite.baseline for g, _, _ in b.rows) else ""
        if suite.primary_metric in b.columns and b.primary != suite.primary_metric:
            b.primary = suite.primary_metric
            b.rows.sort(key=b.order_key)
    return boards
