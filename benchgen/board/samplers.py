"""The sampler comparison of a board whose rows are samplers of one model (DDPM-1000, DDIM-10, ...): each row's
sampler, steps, network evaluations and measured seconds per volume, as a rich table, Markdown and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from benchgen.board.board import Board
from benchgen.board.formatting import fmt_num


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


def sampler_cells(r: SamplerRow) -> list[str]:
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
        t.add_row(*map(Text, sampler_cells(r)))
    return t


def sampler_markdown(board: Board) -> str:
    rows = sampler_rows(board)
    if not rows:
        return ""
    lines = ["| " + " | ".join(SAMPLER_HEAD) + " |", "|" + "---|" * len(SAMPLER_HEAD)]
    lines += ["| " + " | ".join(sampler_cells(r)) + " |" for r in rows]
    return "\n".join(lines + ["", f"_{sampler_caption(board)}_"])


def sampler_html(board: Board) -> str:
    e = html.escape
    rows = sampler_rows(board)
    if not rows:
        return ""
    head = "".join(f"<th>{e(h)}</th>" for h in SAMPLER_HEAD)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in sampler_cells(r)) + "</tr>" for r in rows)
    return (f"<table class='samplers'><caption>{e(sampler_caption(board))}</caption><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")

