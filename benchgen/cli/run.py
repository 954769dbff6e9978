"""`benchgen run`, `validate`, `train` and `sample`: suites from TOML to stored results."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from benchgen.cli.app import app, console, handle_errors, out, print_tracebacks, state
from benchgen.suite.model import Suite

EXECUTOR_HELP = ("Where the cells run: inprocess (this process, the default), local (submitit processes on this "
                 "machine) or slurm (SLURM job arrays); see docs/cluster.md.")
RESULTS_HELP = "SQLite result store [default: $BENCHGEN_HOME/results.sqlite]"
PROFILE_HELP = ("Suite profile: auto (quick on every machine; with a CUDA device it also prints what the paper "
                "profile would cost), or a profile name from the suite, e.g. paper.")
METRICS_HELP = "Board columns, comma-separated, e.g. mmd,frd (prdc: every prdc.* column); default all."
SET_HELP = ("Override one suite value, checked like the file's own keys: TABLE.KEY=VALUE (a TOML value), e.g. "
            "generators.ddpm.params.max_steps=600 or evaluation.n_samples=8; repeatable.")


def load(suite_path: Path, profile: str, quiet: bool, sets: list[str] | None = None) -> Suite:
    from benchgen.suite.load import load_suite

    suite = load_suite(suite_path, profile, sets or ())
    check_home(suite_path)
    if not quiet:
        console.print(f"suite [bold]{escape(suite.name)}[/] v{escape(suite.version)} · profile "
                      f"[bold]{escape(suite.profile)}[/] ({suite.profile_reason}) · "
                      f"shape {'×'.join(map(str, suite.shape))} · "
                      f"n_samples {suite.n_samples} · seeds {suite.seeds}", highlight=False)
        print_paper_cost(suite, suite_path, profile, sets or ())
    return suite


def print_paper_cost(suite: Suite, suite_path: Path, requested: str, sets: list[str] | tuple[str, ...]) -> None:
    """On a CUDA machine where `auto` chose a smaller profile: what the paper profile would cost, and how to
    start it (a GPU does not start a paper-scale run by itself)."""
    from benchgen.suite.load import cuda_available

    if requested != "auto" or suite.profile == "paper" or "paper" not in suite.profiles or not cuda_available():
        return
    from benchgen.suite.cost import profile_cost

    cost = profile_cost(suite_path, "paper", sets)
    if cost is not None:
        console.print(cost.text(suite_path), highlight=False, markup=False)


def check_home(suite_path: Path) -> None:
    """BENCHGEN_HOME must be writable before a suite is run (or passes `validate`): the error names the suite."""
    from benchgen import paths
    from benchgen.errors import ConfigError

    try:
        paths.check_home()
    except ConfigError as exc:
        raise ConfigError(f"{suite_path}: {exc.message}", exc.hint) from None


@app.command("run")
@handle_errors
def run_cmd(
    suite_path: Path = typer.Argument(..., metavar="SUITE", help="Suite TOML file, e.g. benchmarks/healthy_t1.toml"),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
    results: Path = typer.Option(None, "--results", help=RESULTS_HELP),
    generator: list[str] = typer.Option(None, "--generator", "-g", help="Run only these generator labels."),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
    all_configs: bool = typer.Option(False, "--all-configs", help="Board: also older configs of each label."),
    metrics: str = typer.Option(None, "--metrics", help=METRICS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary and leaderboard on stdout."),
    executor: str = typer.Option("inprocess", "--executor", help=EXECUTOR_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the units of work (resources, dependencies) "
                                 "and submit nothing."),
    run_dir: Path = typer.Option(None, "--run-dir", help="Run folder of --executor local|slurm (shards, job logs) "
                                 "[default: $BENCHGEN_HOME/runs/<suite>/<profile>/cluster]"),
    partition: str = typer.Option(None, "--partition", help="SLURM partition of every job."),
    account: str = typer.Option(None, "--account", help="SLURM account of every job."),
    gpus: int = typer.Option(None, "--gpus", help="GPUs per job."),
    cpus: int = typer.Option(None, "--cpus", help="CPUs per job."),
    mem_gb: int = typer.Option(None, "--mem-gb", help="Memory per job, GB."),
    time_min: int = typer.Option(None, "--time-min", help="Time limit per job, minutes."),
    array_parallelism: int = typer.Option(None, "--array-parallelism", help="Jobs running at once."),
) -> None:
    """Fit, sample and score every generator of a suite; finished cells are stored and skipped on re-runs.
    The board shows the suite's configs as the file (and --set) stands."""
    import time

    from benchgen import paths
    from benchgen.board import build, render
    from benchgen.board.report import write_run_outputs
    from benchgen.board.select import suite_boards
    from benchgen.distributed import is_main_process
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite
    from benchgen.timing import append_to_log

    start = time.perf_counter()
    results = results or paths.default_results()
    paths.check_writable(results)
    suite = load(suite_path, profile, quiet or as_json, sets)
    resources = {"partition": partition, "account": account, "gpus": gpus, "cpus": cpus, "mem_gb": mem_gb,
                 "time_min": time_min, "array_parallelism": array_parallelism}
    if dry_run or executor != "inprocess":
        from benchgen.cli.cluster import run_or_plan

        summary = run_or_plan(suite, results, executor, resources, run_dir, generator or None, dry_run,
                                          quiet or as_json)
        if summary is None:  # the dry run printed its plan
            return
    else:
        summary = run_suite(suite, results, quiet=quiet or as_json, only=generator or None, console=console)
    t_board = time.perf_counter()
    store = ResultStore(results)
    boards = build.select(suite_boards(suite, store, all_configs, summary.data_fingerprint), metrics)
    store.close()
    if is_main_process():  # the metric plot and the results page, beside the samples
        store = ResultStore(results)
        try:
            summary.outputs += write_run_outputs(suite, store, boards, summary.data_fingerprint)
        finally:
            store.close()
    summary.stages.add("board + report", time.perf_counter() - t_board)
    total = time.perf_counter() - start
    breakdown = summary.stages.table(total)
    if summary.log_file is not None:  # an in-process run: its run.log ends with the breakdown too
        append_to_log(summary.log_file, breakdown)
    if as_json:
        payload = {"suite": suite.name, "profile": suite.profile, "results": str(results),
                   "computed": summary.computed, "cached": summary.cached, "seconds": round(summary.seconds, 2),
                   "time": summary.stages.summary(total),
                   "errors": [{"cell": e.cell, "message": e.message} for e in summary.errors],
                   "excluded": [{"item": i, "reason": r} for i, r in summary.data_failures],
                   "leaderboard": json.loads(render.render_json(boards))}
        out.print_json(json.dumps(payload))
    else:
        out.print(render.render_table(boards, width=out.width))
    if not as_json:
        if not quiet:
            console.print(f"{summary.computed} cells computed, {summary.cached} cached, {len(summary.errors)} errors, "
                          f"{summary.seconds:.1f} s · results in {results}", highlight=False, markup=False)
            for path in summary.outputs:
                console.print(f"  wrote {path}", highlight=False, markup=False)
            for line in breakdown:
                console.print(line, highlight=False, markup=False, soft_wrap=True)
    if state["debug"]:
        print_tracebacks([(e.cell, e.traceback) for e in summary.errors])
    for e in summary.errors:
        console.print(f"[red]failed[/] {escape(e.cell)}: {escape(e.message)}", highlight=False)
    if summary.errors:
        if not state["debug"]:
            console.print("[dim]hint: re-run with --debug for the plugins' tracebacks[/]", highlight=False)
        raise typer.Exit(1)


@app.command("report")
@handle_errors
def report_cmd(
    suite_path: Path = typer.Argument(Path("benchmarks/healthy_t1.toml"), metavar="[SUITE_FILE]",
                                      help="Suite TOML file [default: benchmarks/healthy_t1.toml]"),
    out_dir: Path = typer.Option(None, "--out", help="Folder for report.html [default: "
                                 "$BENCHGEN_HOME/runs/<suite>/<profile>]"),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
    results: Path = typer.Option(None, "--results", help=RESULTS_HELP),
) -> None:
    """Write the suite's results page: one self-contained HTML file (sortable board, a plot per metric,
    samples beside real scans, loss curves, configs, provenance). Scores nothing: run the suite first."""
    from benchgen import paths
    from benchgen.board.report import run_folder, write_report
    from benchgen.results.store import open_existing

    suite = load(suite_path, profile, True, sets)
    store = open_existing(results or paths.default_results())
    try:
        path = write_report(suite, store, out_dir or run_folder(suite))
    finally:
        store.close()
    out.print(f"wrote {path}", markup=False, highlight=False)


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


@app.command("validate")
@handle_errors
def validate_cmd(
    suite_path: Path = typer.Argument(..., metavar="SUITE", help="Suite TOML file."),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Check a suite file strictly without running anything: keys, types, plugins, params, what each plugin
    needs of the suite (shape, sample counts, device) and a writable BENCHGEN_HOME."""
    suite = load(suite_path, profile, quiet=True, sets=sets)
    if suite.profile == "paper" and suite.device in ("auto", "cpu"):
        from benchgen.suite.load import cuda_available

        if not cuda_available() or suite.device == "cpu":
            console.print("[yellow]warning:[/] the paper profile on a CPU takes days (the reference network needs "
                          "~100 s per forward pass at 84×128×84 on a 2-core CPU); run it on a GPU node, or use "
                          "--profile quick", highlight=False)
    out.print(f"{suite_path}: ok · {suite.name} v{suite.version} · profile {suite.profile} · "
              f"{len(suite.generators)} generators · {len(suite.metrics)} metrics"
              f"{f' (protocol {suite.protocol})' if suite.protocol else ''} · profiles: "
              f"{', '.join(suite.profiles) or 'none'}", highlight=False, markup=False)
    if suite.protocol:
        from benchgen.suite.protocols import get

        note = get(suite.protocol).shortfall(None, suite.n_samples)
        if note:
            console.print(f"[yellow]warning:[/] {note}: evaluation.n_samples is below what protocol {suite.protocol} "
                          "scores; the run goes ahead and its records and board say so", highlight=False)


@app.command("train")
@handle_errors
def train_cmd(
    suite_path: Path = typer.Argument(..., metavar="SUITE", help="Suite TOML file."),
    generator: str = typer.Option(..., "--generator", "-g", help="Generator label in the suite, e.g. ddpm"),
    profile: str = typer.Option("auto", "--profile", "-p", help=PROFILE_HELP),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
    force: bool = typer.Option(False, "--force", help="Train again even if a checkpoint for this config exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Fit one generator of a suite on its training split and print the checkpoint folder.
    Interrupted training resumes from its work folder on the next call."""
    from benchgen.data.load import load_data
    from benchgen.fit.fit import fit_or_load, is_fitted
    from benchgen.fit.parent import resolve_parent
    from benchgen.progress import ProgressReporter
    from benchgen.provenance import resolve_device

    suite = load(suite_path, profile, quiet, sets)
    (label,) = suite.generator_labels([generator])
    with ProgressReporter(console=console, enabled=not quiet) as progress:
        data, spec, device = load_data(suite, progress), suite.generators[label], resolve_device(suite.device)
        parent = None if is_fitted(spec, data) and not force else resolve_parent(spec, suite, device, progress)
        _, ckpt = fit_or_load(spec, data, suite, device, progress, force=force, parent=parent)
    out.print(str(ckpt), markup=False)


@app.command("sample")
@handle_errors
def sample_cmd(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder (printed by `benchgen train`)."),
    n: int = typer.Option(..., "-n", help="Number of volumes."),
    out_dir: Path = typer.Option(..., "--out", help="Output folder for NIfTI files."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed (the same seed gives the same volumes)."),
    sampler: str = typer.Option(None, "--sampler", help="Override the sampler (e.g. ddpm, ddim, pndm)."),
    steps: int = typer.Option(None, "--steps", help="Override the number of inference steps."),
    eta: float = typer.Option(None, "--eta", help="Override DDIM eta."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Draw volumes from a fitted generator and write them as NIfTI with the dataset's affine."""
    from benchgen.progress import ProgressReporter
    from benchgen.sample.cache import sample_checkpoint

    overrides = {k: v for k, v in {"sampler": sampler, "inference_steps": steps, "eta": eta}.items() if v is not None}
    with ProgressReporter(console=console, enabled=not quiet) as progress:
        files = sample_checkpoint(checkpoint, n, out_dir, seed, overrides, progress)
    out.print(f"wrote {len(files)} volumes to {out_dir}", markup=False)
