"""`benchgen preprocess SRC DST --chain paper [--jobs N] [--strict] [--first-volume]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import typer
from rich.markup import escape
from rich.table import Table

from benchgen.cli.app import app, console, handle_errors, out
from benchgen.errors import ConfigError
from benchgen.params import parse_overrides


def parse_kv(items: Sequence[str], default_owner: str | None = None) -> dict[str, dict[str, Any]]:
    """``STEP.KEY=VALUE`` options for a chain or source (see :func:`benchgen.params.parse_overrides`)."""
    return parse_overrides(items, "STEP.KEY=VALUE, e.g. paper.denoise=false", default_owner)


def failure_table(failures: Sequence[Any], title: str) -> Table:
    table = Table(title=title, show_lines=False, title_style="bold red")
    table.add_column("subject")
    table.add_column("file", overflow="fold")
    table.add_column("reason", overflow="fold")
    for f in failures:
        table.add_row(escape(f.subject_id), escape(f.path or ""), escape(f.reason))
    return table


@app.command("preprocess")
@handle_errors
def preprocess_cmd(
    src: Path = typer.Argument(..., help="Folder of NIfTI files, BIDS folder or manifest CSV (never written to)."),
    dst: Path = typer.Argument(..., help="Output folder: NIfTI + JSON sidecars, qc.csv, qc_montage.png, manifest.csv."),
    chain: str = typer.Option("paper", "--chain", help="'paper' or step names separated by commas."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes (one thread each)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if any file fails."),
    first_volume: bool = typer.Option(False, "--first-volume", help="Use the first volume of 4D files."),
    source: str = typer.Option("auto", "--source", help="auto, nifti-folder, bids or manifest."),
    shape: str = typer.Option("84,128,84", "--shape", help="Target shape for steps that use the suite's shape."),
    param: list[str] = typer.Option([], "--param", help="STEP.KEY=VALUE for a chain step (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Preprocess scans folder to folder: parallel, resumable, quality-controlled; bad files are listed."""
    from benchgen.data.preprocessing import preprocess_folder
    from benchgen.progress import ProgressReporter

    try:
        d, h, w = (int(s) for s in shape.split(","))
        if min(d, h, w) < 2:
            raise ValueError
    except ValueError:
        raise ConfigError(f"--shape {shape!r}: expected three sizes ≥ 2 like 84,128,84") from None
    target = (d, h, w)
    names = [n.strip() for n in chain.split(",") if n.strip()]
    chain_params = parse_kv(param, names[0] if len(names) == 1 else None)
    with ProgressReporter(console, enabled=not quiet) as progress:
        report = preprocess_folder(src, dst, chain=chain, jobs=jobs, strict=strict, first_volume=first_volume,
                                   target_shape=target, source=source, chain_params=chain_params,
                                   progress=progress)
    if report.failures:
        console.print(failure_table(report.failures, f"{len(report.failures)} file(s) excluded"))
    if report.outliers:
        console.print(f"[yellow]{len(report.outliers)} QC outlier(s)[/] (kept; see qc.csv): "
                      + escape(", ".join(f"{s} ({r})" for s, r in report.outliers[:10])))
    out.print(f"{report.usable} usable volume(s) in {report.dst} ({len(report.processed)} processed, "
              f"{len(report.skipped)} already done, {len(report.failures)} excluded); "
              f"chain {chain} fingerprint {report.chain_fingerprint}", markup=False)
    out.print(f"QC: {report.qc_csv}  montage: {report.montage}  manifest: {report.manifest}", markup=False)
    if strict and report.failures:
        raise typer.Exit(1)
