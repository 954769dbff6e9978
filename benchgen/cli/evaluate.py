"""``benchgen evaluate REAL SYNTH``: score two folders (or globs) of NIfTI files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchgen.cli.app import app, console, handle_errors, out, print_tracebacks, state


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def render_table(result: dict) -> Table:
    table = Table(title=f"{result['n_synthetic']} synthetic vs {result['n_real']} real volumes")
    for col in ("metric", "value", "95% CI", "reference", "better", "status"):
        table.add_column(col, justify="right" if col in ("value", "95% CI", "reference") else "left")
    for name, m in result["metrics"].items():
        ci = f"[{_fmt(m['ci'][0])}, {_fmt(m['ci'][1])}]" if m["ci"] else "—"
        status = m["status"] if m["status"] == "ok" else f"{m['status']}: {m['message']}"
        table.add_row(escape(name), _fmt(m["value"]), escape(ci), _fmt(m["reference"]),
                      "↑ higher" if m["higher_is_better"] else "↓ lower", escape(status))
    return table


@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    real: str = typer.Argument(..., help="Folder, glob or file of real NIfTI volumes (the reference)."),
    synthetic: str = typer.Argument(..., help="Folder, glob or file of synthetic NIfTI volumes."),
    train: Optional[str] = typer.Option(None, "--train", help="Training volumes (for memorization)."),
    metric: list[str] = typer.Option([], "--metric", "-m",
                                     help="Metric plugin name; repeat. Default: mmd fid ms-ssim prdc "
                                          "(+ memorization with --train)."),
    param: list[str] = typer.Option([], "--param", "-p", help="METRIC.KEY=VALUE (TOML value); repeat."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
    normalize: bool = typer.Option(False, "--normalize", help="Rescale each volume to [0, 1] by its min/max."),
    seed: int = typer.Option(0, "--seed", help="Seed of bootstrap CIs and pair sampling."),
    device: str = typer.Option("cpu", "--device", help="Torch device for feature extraction."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the JSON here."),
) -> None:
    """Score SYNTHETIC against REAL with metric plugins; exits 1 if any metric errored."""
    from benchgen.errors import ConfigError
    from benchgen.evaluate import evaluate, parse_param_overrides

    if fmt not in ("table", "json"):
        raise ConfigError(f"--format {fmt!r}: choose table or json")
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=fmt == "json") as bar:
        tasks: dict[str, int] = {}

        def progress(desc: str, completed: int, total: int, **_: object) -> None:
            if desc not in tasks:
                tasks[desc] = bar.add_task(desc, total=total)
            bar.update(tasks[desc], completed=completed, total=total)

        result = evaluate(real, synthetic, metric, train, parse_param_overrides(param), normalize, seed,
                          device, progress=progress)
    text = json.dumps(result, indent=2, default=str)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
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
