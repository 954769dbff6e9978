"""Boards -> what people read: the terminal's rich tables (the widest layout that fits), Markdown, CSV, JSON and
a sortable HTML table. Each board is followed by its verdicts against the suite's baseline (where it has one)
and, on a board of samplers, their steps and speed."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from typing import Any

from benchgen.board import verdicts
from benchgen.board.board import Board
from benchgen.board.formatting import REAL_ROW, fmt_num
from benchgen.board.samplers import sampler_html, sampler_markdown, sampler_table


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
    full one is :func:`benchgen.board.legend.explain`)."""
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



def render_table(boards: list[Board], width: int = 100, metrics: list[str] | None = None) -> Any:
    """Rich renderables: each board in the widest layout that fits `width` (see :func:`board_tables`),
    only the `metrics` columns when given."""
    from rich.console import Group

    tables = []
    for b in boards:
        tables += board_tables(b.select(metrics), width)
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


def render_json(boards: list[Board]) -> str:
    heads = [{"suite": b.suite, "version": b.version, "profile": b.profile, "n_real": b.n_real,
              "n_synthetic": b.n_synthetic, "primary_metric": b.primary, "ignored_records": b.ignored,
              "protocol": b.protocol, "below_protocol": bool(b.below_protocol), "protocol_note": b.below_protocol,
              "caption": b.caption(), "baseline": b.baseline or None, "verdicts": verdicts.json_section(b)} for b in boards]
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
    body = "".join(f"<h2>{html.escape(b.title())}</h2>{board_html(b)}{verdicts.html_section(b)}{sampler_html(b)}"
                   for b in boards)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>benchgen leaderboard</title>" \
           f"<style>{HTML_STYLE}</style></head><body>{body}<script>{SORT_JS}</script></body></html>\n"


RENDERERS = {"markdown": render_markdown, "csv": render_csv, "json": render_json, "html": render_html}
