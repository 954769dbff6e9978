"""``benchgen evaluate REAL SYNTH``: score two folders (or globs) of NIfTI files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchgen.cli.app import app, console, handle_errors, out, print_tracebacks, state


def _fmt(x: float | None) -> str:
    from benchgen.board.formatting import fmt_num

    return "—" if x is None else fmt_num(x)


def render_table(result: dict) -> Table:
    """The scores in the leaderboards' format: ``value [low, high]`` (``†``: the value lies outside its
    bootstrap interval), ↑/↓, and ≈ for a metric with a real-set reference (closest to it is best)."""
    from benchgen.board.formatting import ARROWS, OUTSIDE, fmt_interval

    check = result.get("protocol_check") or {}
    protocol = f" · protocol {result['protocol']}" if result.get("protocol") else ""
    below = f" · {check['note']}" if check.get("note") else ""
    table = Table(title=f"{result['n_synthetic']} synthetic vs {result['n_real']} real volumes{protocol}{below}")
    for col in ("metric", "value [95% CI]", "reference", "better", "status"):
        table.add_column(col, justify="right" if col in ("value [95% CI]", "reference") else "left")
    marked = False
    for name, m in result["metrics"].items():
        lo, hi = m["ci"] if m["ci"] else (None, None)
        value = "—" if m["value"] is None else fmt_interval(m["value"], lo, hi)
        marked = marked or OUTSIDE in value
        status = m["status"] if m["status"] == "ok" else f"{m['status']}: {m['message']}"
        better = (f"{ARROWS['closest']} closest to reference" if m["reference"] is not None
                  else f"{ARROWS['higher']} higher" if m["higher_is_better"] else f"{ARROWS['lower']} lower")
        table.add_row(escape(name), escape(value), _fmt(m["reference"]), better, escape(status))
    notes = [f"{OUTSIDE} the value lies outside its bootstrap interval (small-sample bias)"] if marked else []
    if check.get("note"):
        notes.append(f"{check['note']}: fewer volumes than protocol {result['protocol']} scores, so these numbers "
                     "are not comparable with the paper's")
    table.caption = " · ".join(notes) or None
    return table


@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    real: str = typer.Argument(..., help="Folder, glob or file of real NIfTI volumes (the reference), or a "
                               ".npy of N×1×D×H×W float32 volumes (read from disk in batches)."),
    synthetic: str = typer.Argument(..., help="Folder, glob or file of synthetic NIfTI volumes, or a .npy."),
    train: Optional[str] = typer.Option(None, "--train", help="Training volumes (for memorization)."),
    metric: list[str] = typer.Option([], "--metric", "-m",
                                     help="Metric plugin name; repeat. Default: mmd frd ms-ssim prdc "
                                          "(+ memorization with --train)."),
    param: list[str] = typer.Option([], "--param", "-p", help="METRIC.KEY=VALUE (TOML value); repeat."),
    protocol: str = typer.Option("", "--protocol", help="A named metric preset reproducing a paper's "
                                 "evaluation (`benchgen protocols` lists them); not with --metric. "
                                 "--param may then set only weights and bootstrap."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
    normalize: bool = typer.Option(False, "--normalize",
                                   help="Map each volume to [0, 1] with the scale-01 preprocessing step "
                                        "(foreground percentiles 0-99.5, background 0); without it, volumes "
                                        "outside [0, 1] are refused."),
    seed: int = typer.Option(0, "--seed", help="Seed of bootstrap CIs and pair sampling."),
    device: str = typer.Option("cpu", "--device", help="Torch device for feature extraction."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the JSON here."),
) -> None:
    """Score SYNTHETIC against REAL with metric plugins; exits 1 if any metric errored."""
    from benchgen.errors import ConfigError
    from benchgen.score.evaluate import evaluate, metric_plugins, parse_param_overrides

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt!r}: choose table or json")
    metric_plugins(metric, train is not None, parse_param_overrides(param), protocol)  # bad metrics: one line, first
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=fmt == "json") as bar:
        tasks: dict[str, TaskID] = {}

        def progress(desc: str, completed: int, total: int, **_: object) -> None:
            if desc not in tasks:
                tasks[desc] = bar.add_task(desc, total=total)
            bar.update(tasks[desc], completed=completed, total=total)

        result = evaluate(real, synthetic, metric, train, parse_param_overrides(param), normalize, seed,
                          device, progress=progress, protocol=protocol)
    text = json.dumps(result, indent=2, default=str)
    if output is not None:
        from benchgen.atomic import write_text

        write_text(output, text)  # folders made; a full disk names the file and leaves the previous one
    if fmt == "json":
        print(text)
    else:
        out.print(render_table(result))
    errors = [n for n, m in result["metrics"].items() if m["status"] == "error"]
    if errors:
        if state["debug"]:
            print_tracebacks([(n, (result["metrics"][n]["details"] or {}).get("traceback")) for n in errors])
        for n in errors:
            console.print(f"[bold red]error:[/] {escape(result['metrics'][n]['message'] or '')}", highlight=False)
        raise typer.Exit(1)


@app.command("protocols")
@handle_errors
def protocols_cmd(
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="Show one protocol with its sources."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """The named metric presets (``benchgen evaluate --protocol NAME``, suite ``[evaluation] protocol =
    "NAME"``): each one's metrics and params, the sample counts and shape it scores, and its source files."""
    import dataclasses

    from benchgen.errors import ConfigError
    from benchgen.suite import protocols

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt!r}: choose table or json")
    chosen = [protocols.get(name)] if name else list(protocols.PRESETS)
    if fmt == "json":
        out.file.write(json.dumps([dataclasses.asdict(p) for p in chosen], indent=2) + "\n")
        return
    table = Table(title="benchgen protocols", show_lines=True)
    for col in ("name", "metrics (plugin: params)", "n synthetic / real", "shape", "description"):
        table.add_column(col, overflow="fold")
    for p in chosen:
        mets = "\n".join(f"{label} ({t['plugin']}): " + ", ".join(f"{k}={v}" for k, v in t["params"].items())
                         for label, t in p.metrics.items())
        counts = f"{p.min_samples or 'any'} / {p.min_real or 'any'}"
        shape = "×".join(map(str, p.shape)) if p.shape else "any"
        table.add_row(p.name, escape(mets), counts, shape, escape(p.description))
    out.print(table)
    for p in chosen if name else []:
        out.print(f"citation: {p.citation}", markup=False, highlight=False)
        for line in (*[f"source: {s}" for s in p.sources], *([f"needs: {p.needs}"] if p.needs else []),
                     *[f"note: {n}" for n in p.notes]):
            out.print(line, markup=False, highlight=False)
