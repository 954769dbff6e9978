"""`benchgen data export SOURCE DIR [--n N] [--param KEY=VALUE] [--layout bids|flat]`."""

from __future__ import annotations

from pathlib import Path

import typer

from benchgen.cli.app import app, console, handle_errors, out
from benchgen.cli.preprocess import failure_table, parse_kv

data_app = typer.Typer(no_args_is_help=True, help="Dataset utilities (export a source as NIfTI files).")
app.add_typer(data_app, name="data")


@data_app.command("export")
@handle_errors
def export_cmd(
    source: str = typer.Argument(..., help="Dataset source plugin, e.g. phantom."),
    dst: Path = typer.Argument(..., help="Output folder."),
    n: int = typer.Option(None, "--n", help="Number of subjects (sets n_subjects where the source has it)."),
    param: list[str] = typer.Option([], "--param", help="KEY=VALUE source parameter (repeatable)."),
    layout: str = typer.Option("bids", "--layout", help="bids (sub-X/anat/sub-X_T1w.nii.gz) or flat."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write a dataset source's scans as NIfTI files + participants.tsv (e.g. the phantom cohort, to try
    the nifti-folder / bids / preprocess path end to end)."""
    from benchgen.data.preprocessing import export_source
    from benchgen.progress import ProgressReporter

    params = parse_kv(param, source).get(source, {})
    with ProgressReporter(console, enabled=not quiet) as progress:
        report = export_source(source, dst, params, n=n, layout=layout, jobs=jobs, progress=progress)
    if report.failures:
        console.print(failure_table(report.failures, f"{len(report.failures)} scan(s) not exported"))
    out.print(f"wrote {len(report.written)} NIfTI file(s) and {report.participants} to {report.dst}", markup=False)
