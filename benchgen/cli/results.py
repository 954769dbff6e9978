"""`benchgen leaderboard`, `export`, `list` and `cache`: reading what is stored and installed."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from benchgen.cli.app import app, console, handle_errors, out
from benchgen.errors import ConfigError

RESULTS_HELP = "SQLite result store [default: $BENCHGEN_HOME/results.sqlite]"
FORMATS = ("table", "markdown", "csv", "json", "html")


@app.command("leaderboard")
@handle_errors
def leaderboard_cmd(
    suite: str = typer.Option(None, "--suite", "-s",
                              help="A suite file (its configs as the file stands) or a stored suite name "
                                   "(default: every suite in the store)."),
    profile: str = typer.Option(None, "--profile", "-p", help="Only this profile (a suite file: default auto)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, markdown, csv, json or html"),
    all_configs: bool = typer.Option(False, "--all-configs", help="With a suite file: also older configs."),
    results: Path = typer.Option(None, "--results", help=RESULTS_HELP),
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file instead of stdout."),
) -> None:
    """Rank generators per suite and profile: mean ± 95% CI over seeds, ↑/↓ per metric."""
    from benchgen import leaderboard, paths
    from benchgen.store import open_existing

    if fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose one of {', '.join(FORMATS)}")
    store = open_existing(results or paths.default_results())
    try:
        if suite and (suite.endswith(".toml") or Path(suite).is_file()):
            from benchgen.runner import suite_boards
            from benchgen.suite import load_suite

            boards = suite_boards(load_suite(suite, profile or "auto"), store, all_configs)
        else:
            boards = leaderboard.stored_boards(store, suite, profile)
    finally:
        store.close()
    if not boards:
        raise ConfigError("no results to rank", "run `benchgen run SUITE` first")
    if fmt == "table" and output is None:
        out.print(leaderboard.render_table(boards))
        return
    text = leaderboard.render_markdown(boards) if fmt == "table" else leaderboard.RENDERERS[fmt](boards)
    if output:
        output.write_text(text)
        console.print(f"wrote {output}", markup=False)
    else:
        out.file.write(text)


@app.command("export")
@handle_errors
def export_cmd(
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or jsonl"),
    suite: str = typer.Option(None, "--suite", "-s"),
    results: Path = typer.Option(None, "--results"),
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file instead of stdout."),
) -> None:
    """Every stored record with its full provenance, as CSV or JSON lines."""
    from benchgen import paths, store

    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose csv or jsonl")
    db = store.open_existing(results or paths.default_results())
    records = db.records(suite=suite)
    db.close()
    if output:
        with open(output, "w", newline="") as f:
            store.export(records, fmt, f)
        console.print(f"wrote {len(records)} records to {output}")
    else:
        store.export(records, fmt, out.file)


@app.command("list")
@handle_errors
def list_cmd(
    kind: str = typer.Option(None, "--kind", "-k", help="generators, metrics, preprocessors, datasets or features"),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
) -> None:
    """Every installed plugin with its kind, distribution, version and status (broken ones with their error)."""
    from rich.table import Table

    from benchgen import registry
    from benchgen.interfaces import KINDS

    if kind and kind not in KINDS:
        raise ConfigError(f"--kind: {kind!r} is not a plugin kind; choose one of {', '.join(KINDS)}")
    if fmt not in ("table", "json"):
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose table or json")
    entries = [e for e in registry.check_all() if not kind or e.kind == kind]
    rows = [{"kind": e.kind, "name": e.name, "distribution": e.distribution, "dist_version": e.dist_version,
             "plugin_version": getattr(e.cls, "version", None), "status": e.status, "entry_point": e.value,
             "error": e.error if not e.also else f"also registered by {', '.join(e.also)}",
             "doc": ((e.cls.__doc__ or "").strip().splitlines() or [""])[0] if e.cls else ""} for e in entries]
    if fmt == "json":
        out.file.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="benchgen plugins")
    for col in ("kind", "name", "distribution", "status", "description / error"):
        table.add_column(col)
    for r in rows:
        style = None if r["status"] in ("available", "loaded") else "red"
        table.add_row(r["kind"], r["name"], f"{r['distribution']} {r['dist_version']}", r["status"],
                      r["error"] or r["doc"], style=style)
    out.print(table)


cache_app = typer.Typer(help="List or clear the content-addressed caches (datasets, checkpoints, samples, features, "
                             "file-hashes).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("list")
@handle_errors
def cache_list() -> None:
    """Size and entry count of each cache."""
    from benchgen import paths

    out.print(f"cache root: {paths.cache_dir()}", markup=False, highlight=False)
    for kind, entries, size in paths.cache_usage():
        out.print(f"  {kind:12s} {entries:5d} entries  {size / 1e6:10.1f} MB", markup=False, highlight=False)


@cache_app.command("clear")
@handle_errors
def cache_clear(kind: str = typer.Argument("all", help="all or one cache kind (see `benchgen cache list`)")) -> None:
    """Delete a cache (results in the SQLite store are kept)."""
    from benchgen import paths

    paths.clear_cache(kind)
    out.print(f"cleared {kind}", markup=False)
