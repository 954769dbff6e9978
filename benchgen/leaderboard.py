"""Result records -> ranked leaderboard -> renderers (rich table, Markdown, CSV, JSON, HTML).

One board per (suite, version, profile, n_real, n_synthetic): scores made under different settings
are never ranked against each other. Within a board, each generator label uses its latest config and
each metric column its latest params; older records are counted and reported, never mixed in.
A cell is the mean over seeds with a 95% t-interval over seeds (two or more seeds), or the metric's own
bootstrap interval (one seed). A "real (test split)" row shows metrics' values of the real set itself
(e.g. MS-SSIM of real scans, the paper's 0.74).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

REAL_ROW = "real (test split)"


@dataclass
class Cell:
    mean: float | None
    lo: float | None
    hi: float | None
    n: int  # seeds with a value
    status: str  # ok, skipped, error, mixed
    message: str | None = None

    def text(self, digits: int = 3) -> str:
        if self.mean is None:
            return self.status if not self.message else f"{self.status}"
        s = f"{self.mean:.{digits}g}" if abs(self.mean) >= 1e-3 or self.mean == 0 else f"{self.mean:.2e}"
        if self.lo is not None and self.hi is not None:
            s += f" ± {(self.hi - self.lo) / 2:.2g}"
        return s


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

    def arrow(self, column: str) -> str:
        hib = self.higher_is_better.get(column)
        return "" if hib is None else ("↑" if hib else "↓")

    def caption(self) -> str:
        """The legend every renderer shows under the board."""
        text = "mean ± half-width of the 95% CI (t over seeds; bootstrap for one seed)"
        if self.ignored:
            text += f"; {self.ignored} older records of other configs not shown (--all-configs shows them)"
        return text

    def title(self) -> str:
        return (f"{self.suite} v{self.version} · profile {self.profile} · n_real {self.n_real} · "
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


def _cell(records: list[dict[str, Any]], field_name: str = "value") -> Cell:
    ok = [r for r in records if r["status"] == "ok" and r.get(field_name) is not None]
    if not ok:
        statuses = {r["status"] for r in records}
        status = statuses.pop() if len(statuses) == 1 else "mixed"
        msg = next((r.get("message") for r in records if r.get("message")), None)
        return Cell(None, None, None, 0, status if records else "-", msg)
    vals = [float(r[field_name]) for r in ok]
    lo: float | None
    hi: float | None
    if len(vals) >= 2:
        mean, lo, hi = t_interval(vals)
    else:
        mean = vals[0]
        lo, hi = (ok[0]["ci_low"], ok[0]["ci_high"]) if field_name == "value" else (None, None)
    status = "ok" if len(ok) == len(records) else "mixed"
    return Cell(mean, lo, hi, len(vals), status)


def build_boards(records: list[dict[str, Any]], hidden: int = 0) -> list[Board]:
    """Group records into boards and rank each by its suite's primary metric. `hidden` counts records a
    caller left out (older configs), reported in each board's caption."""
    records = [r for r in records if not (r.get("details") or {}).get("marker")]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["suite"], r["suite_version"], r["profile"], r["n_real"], r["n_synthetic"]), []).append(r)
    boards = []
    for (suite, version, profile, n_real, n_syn), recs in sorted(groups.items(), key=lambda kv: kv[0][:3]):
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
                    "seeds": sorted({r["seed"] for r in grecs}), "sampler": grecs[0].get("sampler") or {}}
            rows.append((gen, info, cells))
        reference = {c: _cell([r for r in keep if r["metric"] == c and r.get("reference") is not None], "reference")
                     for c in columns}
        reference = {c: cell for c, cell in reference.items() if cell.mean is not None}
        sign = -1.0 if hib.get(primary) else 1.0
        rows.sort(key=lambda row: (row[2][primary].mean is None if primary in row[2] else True,
                                   sign * (row[2][primary].mean or 0.0) if primary in row[2] else 0.0))
        boards.append(Board(suite, version, profile, n_real, n_syn, primary, columns, hib, rows, reference,
                            ignored=len(recs) - len(keep) + hidden))
    return boards


def stored_boards(store: Any, suite: str | None = None, profile: str | None = None) -> list[Board]:
    """Boards of every stored suite (or of the suite named `suite`), latest config per label."""
    from benchgen.errors import ConfigError

    if suite and suite not in store.suites():
        raise ConfigError(f"no results for suite '{suite}'", f"stored suites: {', '.join(store.suites()) or 'none'}")
    return build_boards(store.records(suite=suite, profile=profile))


def _first_seen(records: list[dict[str, Any]], value: str, key: str = "metric") -> int:
    return next(i for i, r in enumerate(records) if r[key] == value)


# ---------------------------------------------------------------------------------------- renderers
def _header(board: Board) -> list[str]:
    return ["rank", "generator", *[f"{c} {board.arrow(c)}".strip() for c in board.columns], "seeds", "config"]


def _rows(board: Board) -> list[list[str]]:
    out = []
    for i, (gen, info, cells) in enumerate(board.rows, 1):
        out.append([str(i), gen, *[cells[c].text() for c in board.columns], str(len(info["seeds"])), info["config"]])
    if board.reference:
        out.append(["", REAL_ROW, *[board.reference[c].text() if c in board.reference else ""
                                    for c in board.columns], "", ""])
    return out


def render_table(boards: list[Board]) -> Any:
    """Rich renderables, one table per board."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    tables = []
    for b in boards:
        t = Table(title=escape(b.title()), title_justify="left", show_lines=False)  # labels are text, not markup
        for i, h in enumerate(_header(b)):
            t.add_column(escape(h), justify="right" if i >= 2 else "left",
                         style="bold" if h.startswith(b.primary) else None)
        for row in _rows(b):
            t.add_row(*map(escape, row), style="dim" if row[1] == REAL_ROW else None)
        t.caption = escape(b.caption())
        tables.append(t)
    return Group(*tables)


def render_markdown(boards: list[Board]) -> str:
    parts = []
    for b in boards:
        head = _header(b)
        lines = [f"### {b.title()}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in _rows(b)]
        lines += ["", f"_{b.caption()}_"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _flat(boards: list[Board]) -> list[dict[str, Any]]:
    out = []
    for b in boards:
        rows = [(g, info, cells) for g, info, cells in b.rows] + ([(REAL_ROW, {}, b.reference)] if b.reference else [])
        for rank, (gen, info, cells) in enumerate(rows, 1):
            for c in b.columns:
                cell = cells.get(c)
                if cell is None:
                    continue
                out.append({"suite": b.suite, "suite_version": b.version, "profile": b.profile, "n_real": b.n_real,
                            "n_synthetic": b.n_synthetic, "rank": rank if gen != REAL_ROW else None,
                            "generator": gen, "config": info.get("config"), "metric": c,
                            "higher_is_better": b.higher_is_better.get(c), "mean": cell.mean,
                            "ci_low": _nan_none(cell.lo), "ci_high": _nan_none(cell.hi), "n_seeds": cell.n,
                            "status": cell.status, "primary": c == b.primary})
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


def render_json(boards: list[Board]) -> str:
    heads = [{"suite": b.suite, "version": b.version, "profile": b.profile, "n_real": b.n_real,
              "n_synthetic": b.n_synthetic, "primary_metric": b.primary, "ignored_records": b.ignored,
              "caption": b.caption()} for b in boards]
    return json.dumps({"boards": heads, "cells": _flat(boards)}, indent=2)


def render_html(boards: list[Board]) -> str:
    body = []
    for b in boards:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in _header(b))
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in _rows(b))
        body.append(f"<h2>{html.escape(b.title())}</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
                    f"<caption>{html.escape(b.caption())}</caption></table>")
    style = ("body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
             "padding:4px 8px;text-align:right}td:nth-child(2){text-align:left}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>benchgen leaderboard</title>" \
           f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "json": render_json, "html": render_html}
