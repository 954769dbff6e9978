"""`benchgen run`, `validate` and `train`: suites from TOML to stored results."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from benchgen.cli.app import app, console, handle_errors, out
from benchgen.errors import ConfigError

RESULTS_HELP = "SQLite result store [default: $BENCHGEN_HOME/results.sqlite]"
PROFILE_HELP = "Suite profile: auto (quick without CUDA, paper with it), or a profile name from the suite."


def check_writable(results: Path) -> None:
    """An unwritable results location is one clear error before any work starts."""
    folder = results.parent if results.parent != Path("") else Path(".")
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if results.is_dir():
        raise ConfigError(f"--results {results}: is a folder; give a file path like {results / 'results.sqlite'}")
    import os

    if not os.access(probe, os.W_OK) or (results.exists() and not os.access(results, os.W_OK)):
        raise ConfigError(f"--results {results}: location is not writable", "choose a writable path with --results")


def load(suite_path: Path, profile: str, quiet: bool):
    from benchgen.suite import load_suite

    suite = load_suite(suite_path, profile)
    if not quiet:
        console.print(f"suite [bold]{suite.name}[/] v{suite.version} · profile [bold]{suite.profile}[/] "
                      f"({suite.profile_reason}) · shape {'×'.join(map(str, suite.shape))} · "
                      f"n_samples {suite.n_samples} · seeds {suite.seeds}", highlight=False)
    return suite


@app.command("run")
@handle_errors
def run_cmd(
    suite_path: Path = typer.Argument(..., metavar="SUITE", help="Suite TOML file, e.g. benchmarks/healthy_t1.toml"),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
    results: Path = typer.Option(None, "--results", help=RESULTS_HELP),
    generator: list[str] = typer.Option(None, "--generator", "-g", help="Run only these generator labels."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary and leaderboard on stdout."),
) -> None:
    """Fit, sample and score every generator of a suite; finished cells are stored and skipped on re-runs."""
    from benchgen import leaderboard, paths
    from benchgen.runner import run_suite
    from benchgen.store import ResultStore

    results = results or paths.default_results()
    check_writable(results)
    suite = load(suite_path, profile, quiet or as_json)
    summary = run_suite(suite, results, quiet=quiet or as_json, only=generator or None, console=console)
    store = ResultStore(results)
    boards = leaderboard.build_boards(store.records(suite=suite.name, profile=suite.profile))
    store.close()
    boards = [b for b in boards if b.version == suite.version and b.n_synthetic == suite.n_samples]
    if as_json:
        payload = {"suite": suite.name, "profile": suite.profile, "results": str(results),
                   "computed": summary.computed, "cached": summary.cached, "seconds": round(summary.seconds, 2),
                   "errors": [{"cell": c, "message": m} for c, m in summary.errors],
                   "excluded": [{"item": i, "reason": r} for i, r in summary.data_failures],
                   "leaderboard": json.loads(leaderboard.render_json(boards))}
        out.print_json(json.dumps(payload))
    else:
        out.print(leaderboard.render_table(boards))
        if not quiet:
            console.print(f"{summary.computed} cells computed, {summary.cached} cached, {len(summary.errors)} errors, "
                          f"{summary.seconds:.1f} s · results in {results}", highlight=False)
            for path in summary.outputs:
                console.print(f"  wrote {path}", highlight=False)
    for cell, message in summary.errors:
        console.print(f"[red]failed[/] {cell}: {message}", highlight=False)
    if summary.errors:
        raise typer.Exit(1)


@app.command("validate")
@handle_errors
def validate_cmd(
    suite_path: Path = typer.Argument(..., metavar="SUITE"),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
) -> None:
    """Check a suite file strictly (keys, types, plugins, params) without running anything."""
    suite = load(suite_path, profile, quiet=True)
    out.print(f"{suite_path}: ok · {suite.name} v{suite.version} · profile {suite.profile} · "
              f"{len(suite.generators)} generators · {len(suite.metrics)} metrics · profiles: "
              f"{', '.join(suite.profiles) or 'none'}", highlight=False)


@app.command("train")
@handle_errors
def train_cmd(
    suite_path: Path = typer.Argument(..., metavar="SUITE"),
    generator: str = typer.Option(..., "--generator", "-g", help="Generator label in the suite, e.g. ddpm"),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
    force: bool = typer.Option(False, "--force", help="Train again even if a checkpoint for this config exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Fit one generator of a suite on its training split and print the checkpoint folder.
    Interrupted training resumes from its work folder on the next call."""
    from benchgen.progress import ProgressReporter
    from benchgen.provenance import resolve_device
    from benchgen.runner import fit_or_load, load_data

    suite = load(suite_path, profile, quiet)
    if generator not in suite.generators:
        raise ConfigError(f"unknown generator '{generator}' in {suite_path}",
                          f"choose from {', '.join(suite.generators)}")
    with ProgressReporter(console=console, enabled=not quiet) as progress:
        data = load_data(suite, progress)
        _, ckpt = fit_or_load(suite.generators[generator], data, suite, resolve_device(suite.device), progress,
                              force=force)
    out.print(str(ckpt))


@app.command("sample")
@handle_errors
def sample_cmd(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder (printed by `benchgen train`)."),
    n: int = typer.Option(..., "-n", help="Number of volumes."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder for NIfTI files."),
    seed: int = typer.Option(0, "--seed"),
    sampler: str = typer.Option(None, "--sampler", help="Override the sampler (e.g. ddpm, ddim)."),
    steps: int = typer.Option(None, "--steps", help="Override the number of inference steps."),
    eta: float = typer.Option(None, "--eta", help="Override DDIM eta."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Draw volumes from a fitted generator and write them as NIfTI with the dataset's affine."""
    from benchgen.progress import ProgressReporter
    from benchgen.sampling import sample_checkpoint

    overrides = {k: v for k, v in {"sampler": sampler, "inference_steps": steps, "eta": eta}.items() if v is not None}
    with ProgressReporter(console=console, enabled=not quiet) as progress:
        files = sample_checkpoint(checkpoint, n, out_dir, seed, overrides, progress)
    out.print(f"wrote {len(files)} volumes to {out_dir}")
