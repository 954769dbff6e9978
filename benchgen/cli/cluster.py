"""`benchgen run --executor local|slurm|--dry-run`, `benchgen merge RUN_DIR` and `benchgen status RUN_DIR`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from benchgen.cli.app import app, console, handle_errors, out

if TYPE_CHECKING:  # the runner imports torch: not on the path of `benchgen list`
    from benchgen.runner import RunSummary
    from benchgen.suite.model import Suite


def warn_network_store(results: Path) -> None:
    from benchgen.cluster.fs import network_store_warning

    warning = network_store_warning(results)
    if warning:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, markup=True)


def run_or_plan(suite: Suite, results: Path, executor: str, resources: dict[str, Any], run_dir: Path | None,
                only: list[str] | None, dry_run: bool, quiet: bool) -> RunSummary | None:
    """The cluster side of `benchgen run`: print the plan (a dry run: returns None), or run it."""
    from benchgen.cluster.plan import render_plan
    from benchgen.cluster.submit import check_executor, run_on_executor
    from benchgen.cluster.submit import dry_run as plan_only

    check_executor(executor, submitting=not dry_run)  # the plan prints on a laptop without sbatch
    warn_network_store(results)
    if dry_run:
        plan, folder = plan_only(suite, results, executor, resources, run_dir, only)
        out.print(render_plan(suite, plan, executor), markup=False, highlight=False)
        out.print(f"run folder {folder} · nothing submitted (--dry-run)", markup=False, highlight=False)
        return None
    return run_on_executor(suite, results, executor, resources, run_dir=run_dir, only=only, quiet=quiet,
                           console=console)


RUN_DIR_ARG = typer.Argument(..., metavar="RUN_DIR", help="Run folder (printed by `benchgen run --executor ...`).")


@app.command("merge")
@handle_errors
def merge_cmd(run_dir: Path = RUN_DIR_ARG,
              results: Path = typer.Option(None, "--results", help="Store to merge into [default: the run's own].")
              ) -> None:
    """Merge a run folder's worker shards into the result store; merging twice adds nothing."""
    from benchgen.cluster.ledger import open_run_folder
    from benchgen.cluster.shards import merge_shards
    from benchgen.results.store import ResultStore

    folder = open_run_folder(run_dir)
    target = results or folder.results
    warn_network_store(target)
    store = ResultStore(target)
    try:
        report = merge_shards(folder.path, store, folder.identity)
    finally:
        store.close()
    for line in report.problems:
        console.print(f"[yellow]shard ignored[/]: {line}", highlight=False, markup=True)
    out.print(f"merged {len(report.shards)} shards into {target}: {report.added} new records, {report.already} "
              "already there", markup=False, highlight=False)


@app.command("status")
@handle_errors
def status_cmd(run_dir: Path = RUN_DIR_ARG) -> None:
    """Units of a run folder: done, running, waiting and failed (with the reason)."""
    from benchgen.cluster.ledger import open_run_folder
    from benchgen.cluster.status import render_states, unit_states

    folder = open_run_folder(run_dir)
    states, problems = unit_states(folder)
    out.print(f"{folder.identity.describe()} · {folder.executor} · {folder.path}", markup=False, highlight=False)
    out.print(render_states(states), markup=False, highlight=False)
    for line in problems:
        console.print(f"[yellow]shard ignored[/]: {line}", highlight=False, markup=True)
    if any(s.state in ("failed", "lost") for s in states):
        raise typer.Exit(1)
