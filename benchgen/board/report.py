"""The results page of a suite: one self-contained HTML file (no external resources; images inline as
base64 data URIs) with the sortable leaderboard, a plot per metric, each generator's samples beside real
scans, its loss curve, config and sampler, and the provenance of the numbers.

``benchgen run`` writes it (and ``metrics.png``) beside the run's outputs, ``runs/<suite>/<profile>/``;
``benchgen report SUITE --out DIR`` writes it anywhere. See docs/report.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
from pathlib import Path
from typing import Any, Callable

from benchgen import paths
from benchgen.atomic import atomic_path
from benchgen.board import verdicts
from benchgen.board.board import Board
from benchgen.board.kinds import column_kinds
from benchgen.board.render import HTML_STYLE, SORT_JS, board_html
from benchgen.board.samplers import sampler_html
from benchgen.functional import hierarchical
from benchgen.provenance import now
from benchgen.results.store import ResultStore, draw_of
from benchgen.suite.model import Suite

REPORT_FILE = "report.html"
PLOT_FILE = "metrics.png"
EFFECTS_FILE = "effects.png"
TRADEOFF_FILE = "tradeoff.png"
PARETO_FILE = "pareto.png"

# Sets document.body.dataset.ok once every image has decoded (the browser test reads it), or the reasons not.
CHECK_JS = """
window.addEventListener('load', () => {
  const bad = [];
  document.querySelectorAll('img').forEach(i => { if (!(i.complete && i.naturalWidth > 0)) bad.push(i.alt); });
  if (!document.querySelector('table.board tbody tr')) bad.push('no leaderboard rows');
  document.body.dataset.images = String(document.images.length);
  document.body.dataset.ok = bad.length ? 'broken: ' + bad.join(', ') : 'ok';
});
"""


def run_folder(suite: Suite) -> Path:
    """Where `benchgen run` writes what people look at: samples, montages, metrics.png, report.html."""
    return paths.runs_dir() / suite.name / suite.profile


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _figure_png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def _img(png: bytes, alt: str, cls: str = "") -> str:
    return f"<img class='{cls}' alt='{html.escape(alt)}' src='{_uri(png)}'>"


def _link(target: Path, out_dir: Path) -> str:
    """A link from the page to a local folder: relative when it can be (the page may be moved with it)."""
    try:
        href = os.path.relpath(target, out_dir)
    except ValueError:  # another drive
        href = target.as_uri()
    return f"<a href='{html.escape(href)}/'>{html.escape(str(target))}</a>"


def _provenance(suite: Suite, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    def values(key: str) -> str:
        return ", ".join(sorted({str(r.get(key)) for r in records if r.get(key) is not None})) or "?"

    sha = hashlib.sha256(suite.path.read_bytes()).hexdigest() if suite.path.is_file() else "?"
    created = sorted(r["created_at"] for r in records if r.get("created_at"))
    return [("benchgen version", values("benchgen_version")), ("git sha", values("git_sha")),
            ("torch", values("torch_version")), ("monai", values("monai_version")), ("device", values("device")),
            ("scored", f"{created[0]} … {created[-1]}" if created else "?"), ("page written", now()),
            ("suite file", f"{suite.path} (sha256 {sha})"),
            ("data fingerprint", values("data_fingerprint")), ("runs", values("run_id"))]


def _generator_section(suite: Suite, board: Board, gen: str, info: dict[str, Any], recs: list[dict[str, Any]],
                       out_dir: Path) -> str:
    from benchgen.fit.fit import checkpoint_key

    e = html.escape
    folder = run_folder(suite)
    parts = [f"<section class='gen' id='gen-{e(gen)}'><h3>{e(gen)} <small>({e(info['plugin'])}, config "
             f"{e(info['config'])})</small></h3><div class='pics'>"]
    montage = folder / f"montage-{gen}.png"
    if montage.is_file():
        parts.append(f"<figure>{_img(montage.read_bytes(), f'{gen} montage')}<figcaption>mid-slices of real test "
                     f"scans (top) and {e(gen)}'s samples (seed {suite.seeds[0]})</figcaption></figure>")
    spec = suite.generators.get(gen)
    fps = {r["data_fingerprint"] for r in recs if r.get("data_fingerprint")}
    draw = min((d for r in recs if (d := draw_of(r)) is not None), default=None)  # with draws: the first's curve
    if spec is not None and fps:  # one curve, or one per condition of a per-condition generator
        for cond in (board.conditions if spec.per_condition else [""]):
            loss = paths.cache_dir("checkpoints") / checkpoint_key(spec, sorted(fps)[0], cond, draw) / "loss.png"
            if loss.is_file():
                what = f"training loss{f' of the {cond} model' if cond else ''}"
                parts.append(f"<figure>{_img(loss.read_bytes(), f'{gen} loss curve {cond}'.strip())}<figcaption>"
                             f"{e(what)} ({e(str(loss.parent))})</figcaption></figure>")
    parts.append("</div>")
    config = recs[0].get("generator_config") if recs else None
    facts = [("sampler", json.dumps(info.get("sampler") or {}, sort_keys=True)), ("seeds", str(info["seeds"]))]
    cells = next((cs for g, _, cs in board.rows if g == gen), {})
    split = [f"{c}: {text}" for c, cell in cells.items()
             if cell.parts and (text := hierarchical.parts_text(cell.parts))]
    if len(info.get("fits") or [0]) > 1:  # training runs pooled, and where each cell's uncertainty comes from
        facts.append(("fits", f"{len(info['fits'])}" + (f" (variance of each cell: {'; '.join(split)})" if split
                                                        else "")))
    samples = folder / "samples" / gen
    facts.append(("samples", _link(samples, out_dir) if samples.is_dir() else "not written"))
    parts.append("<table class='facts'>" + "".join(
        f"<tr><th>{e(k)}</th><td>{v if k == 'samples' else '<code>' + e(v) + '</code>'}</td></tr>"
        for k, v in facts) + "</table>")
    parts.append(f"<details><summary>config</summary><pre>{e(json.dumps(config, indent=2, sort_keys=True))}"
                 "</pre></details></section>")
    return "".join(parts)


def render_report(suite: Suite, store: ResultStore, out_dir: Path, data_fp: str | None = None) -> str:
    """The page's HTML for the suite's boards as the file stands (see :func:`benchgen.board.select.suite_boards`)."""
    from benchgen.board.build import build_boards
    from benchgen.board.plots import effect_figure, metric_figure, pareto_figure, tradeoff_figure
    from benchgen.board.select import as_the_file_says
    from benchgen.errors import ConfigError
    from benchgen.results.cells import current_records

    records, hidden = current_records(suite, store, data_fp=data_fp)
    boards = as_the_file_says(suite, build_boards(records, hidden=hidden))
    if not boards:
        raise ConfigError(f"no results for suite '{suite.name}' (profile {suite.profile})",
                          "run `benchgen run SUITE` first")
    e = html.escape
    body = [f"<h1>{e(suite.name)} v{e(suite.version)} <small>· profile {e(suite.profile)}</small></h1>",
            f"<p>{e(suite.description)}</p>" if suite.description else ""]
    for b in boards:
        facts = (f"n_real {b.n_real} · n_synthetic {b.n_synthetic} · seeds {', '.join(map(str, suite.seeds))} · "
                 f"profile {b.profile} · ranked by {b.primary} {b.arrow(b.primary)}")
        body.append(f"<h2>Leaderboard</h2>{board_html(b, facts)}{verdicts.html_section(b)}")
        body.append("<h2>Metrics</h2><p>Each generator's value (dot) with its 95% interval (bar; a hollow dot lies "
                    "outside its one-seed bootstrap interval); the dashed line is the real test split's own value "
                    "where the metric has one.</p><div class='plots'>")
        body += [_img(_figure_png(metric_figure(b, [c])), f"plot {c}", "plot") for c in b.columns]
        effects = board_effects(b, records)
        if effects:
            body.append("</div><h2>Disease effects</h2><p>Cohen's d of every regional tissue volume, disease vs "
                        "healthy, in each generator's samples against the real test scans (anatomy.effect): on "
                        "the dashed line the effect is reproduced, on the horizontal axis it is lost.</p><div>")
            body.append(_img(_figure_png(effect_figure(effects)), "disease effects", "effects"))
        tradeoff = tradeoff_columns(b, records)
        if tradeoff:
            body.append("</div><h2>Utility against fidelity and memorization</h2><p>Each generator's downstream "
                        f"utility ({e(tradeoff[0])}: above the dashed line its synthetic scans help the classifier) "
                        f"against {' and '.join(e(c) for c in tradeoff[1])}, with 95% intervals.</p><div>")
            body.append(_img(_figure_png(tradeoff_figure(b, *tradeoff)), "utility trade-off", "effects"))
        if pareto_column(b):
            body.append("</div><h2>Quality against sampling time</h2><p>Each sampler's steps, network evaluations "
                        f"and measured seconds per volume, and its {e(b.primary)} (95% interval) against them: on "
                        "the Pareto front no other sampler is both faster and better.</p><div>")
            body.append(sampler_html(b))
            body.append(_img(_figure_png(pareto_figure(b)), "pareto front", "effects"))
        body.append("</div><h2>Generators</h2>")
        for gen, info, _ in b.rows:
            recs = [r for r in records if r["generator"] == gen and r["profile"] == b.profile]
            body.append(_generator_section(suite, b, gen, info, recs, out_dir))
    body.append("<h2>Provenance</h2><table class='facts'>" + "".join(
        f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in _provenance(suite, records))
        + "</table>")
    style = HTML_STYLE + ("h1 small,h3 small{color:#666;font-weight:normal}.plots img{max-width:24em;margin:4px}"
                          ".pics{display:flex;flex-wrap:wrap;gap:1em}.pics img{max-width:40em;max-height:26em}"
                          "table.facts th{text-align:left;padding-right:1em}figure{margin:0}"
                          "figcaption{font-size:.8em;color:#555}section.gen{border-top:1px solid #ddd;"
                          "margin-top:1em}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(suite.name)} · benchgen report"
            f"</title><style>{style}</style></head><body>{''.join(body)}<script>{SORT_JS}{CHECK_JS}</script>"
            "</body></html>\n")


def write_report(suite: Suite, store: ResultStore, out_dir: str | Path, data_fp: str | None = None) -> Path:
    """Write `out_dir`/report.html (atomically) and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    text = render_report(suite, store, out, data_fp)
    with atomic_path(path, ".html") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path


def board_effects(board: Board, records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each row's table of disease effects (first seed), in board order: what :func:`effect_figure` plots. The
    column is the first of a metric of kind "anatomy" whose records carry such a table (``details.effects``:
    the built-in ``anatomy.effect``)."""
    kind = column_kinds(records)
    with_effects = {r["metric"] for r in records if (r.get("details") or {}).get("effects")}
    col = next((c for c in board.columns if kind.get(c) == "anatomy" and c in with_effects), None)
    if col is None:
        return []
    out = []
    for gen, info, _ in board.rows:
        recs = sorted((r for r in records if r["generator"] == gen and r["metric"] == col and r["status"] == "ok"
                       and (r.get("details") or {}).get("effects")), key=lambda r: r["seed"])
        if recs:
            out.append((gen, recs[0]["details"]["effects"]))
    return out


def tradeoff_columns(board: Board, records: list[dict[str, Any]]) -> tuple[str, list[str]] | None:
    """(utility column, [fidelity column, memorization column]) of a board that has a metric of kind "utility"
    and at least one of the others; None when it has no such pair. Pooled columns only, each the first of its
    kind in board order; among fidelity columns the board's primary metric, then a metric's single result
    before sub-results (PRDC's four); among memorization columns one ranked by ↑/↓ before one ranked by
    closeness to the real set (a share of copies before AuthPct)."""
    kind = column_kinds(records)
    pooled = [c for c in board.columns if "[" not in c]

    def first(wanted: str, prefer: Callable[[str], bool]) -> str | None:
        found = [c for c in pooled if kind.get(c) == wanted]
        return next((c for c in found if prefer(c)), found[0] if found else None)

    utility = first("utility", lambda c: True)
    if utility is None:
        return None
    fidelity = board.primary if board.primary in pooled and kind.get(board.primary) == "fidelity" else \
        first("fidelity", lambda c: "." not in c)
    memo = first("memorization", lambda c: board.direction(c) in ("higher", "lower"))
    others = [c for c in (fidelity, memo) if c is not None]
    return (utility, others) if others else None


def pareto_column(board: Board) -> str | None:
    """The primary metric when the board compares samplers (:func:`benchgen.board.samplers.sampler_rows`) and two
    of them or more have a time and a value to plot; None otherwise (every other suite)."""
    from benchgen.board.plots import pareto_points

    return board.primary if len(pareto_points(board, board.primary)[0]) >= 2 else None


def write_run_outputs(suite: Suite, store: ResultStore, boards: list[Board],
                      data_fp: str | None = None) -> list[Path]:
    """What `benchgen run` writes at its end beside the samples: the boards' metric plot (and the disease
    effects, utility trade-off or sampler Pareto plot where the board has them) and the report."""
    from benchgen.board.plots import effect_plot, metric_plot, pareto_plot, tradeoff_plot

    folder = run_folder(suite)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    records = store.records(suite=suite.name, profile=suite.profile)
    for i, b in enumerate(b for b in boards if b.columns):
        written.append(metric_plot(b, folder / (PLOT_FILE if i == 0 else f"metrics-{i + 1}.png")))
        effects = board_effects(b, records)
        if effects:  # where the disease effects survive generation: a picture says it at a glance
            written.append(effect_plot(effects, folder / (EFFECTS_FILE if i == 0 else f"effects-{i + 1}.png"),
                                       f"{suite.name} ({suite.profile}): disease effects, synthetic vs real"))
        tradeoff = tradeoff_columns(b, records)
        if tradeoff:  # utility against fidelity and memorization: the choice a few-shot user makes
            written.append(tradeoff_plot(b, folder / (TRADEOFF_FILE if i == 0 else f"tradeoff-{i + 1}.png"),
                                         *tradeoff))
        if pareto_column(b):  # samplers of one model: quality against seconds per volume, the front drawn
            written.append(pareto_plot(b, folder / (PARETO_FILE if i == 0 else f"pareto-{i + 1}.png")))
    if boards:
        written.append(write_report(suite, store, folder, data_fp))
    return written
