"""`benchgen leaderboard`, `export`, `list` and `cache`: reading what is stored and installed."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from benchgen.cli.app import app, console, handle_errors, out, state
from benchgen.errors import ConfigError

if TYPE_CHECKING:
    from benchgen.registry import Entry

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
    records: Path = typer.Option(None, "--records", help="Rank the records of a `benchgen export --format jsonl` "
                                 "file instead of a result store (e.g. docs/results/healthy_t1-quick.jsonl)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file instead of stdout."),
    metrics: str = typer.Option(None, "--metrics", help="Columns, comma-separated, e.g. mmd,frd (prdc: every "
                                "prdc.* column); default all."),
    explain: bool = typer.Option(False, "--explain", help="Print the full legend of the board: what each metric, "
                                 "interval, rank and mark means."),
) -> None:
    """Rank generators per suite and profile: value [95% CI], the ranks the data support, ↑/↓ per metric,
    ≈ for a metric ranked by its distance to the real set's value (`--explain` says it all in full)."""
    from benchgen.board import build, legend, render

    if fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose one of {', '.join(FORMATS)}")
    if records is not None and results is not None:
        raise ConfigError("--records and --results: pass one source of records, not both")
    boards = _boards(suite, profile, all_configs, results, records)
    if not boards:
        raise ConfigError("no results to rank", "run `benchgen run SUITE` first")
    boards = build.select(boards, metrics)
    if explain:
        out.file.write(legend.explain(boards))
        return
    if fmt == "table" and output is None:
        out.print(render.render_table(boards, width=out.width))
        return
    text = render.render_markdown(boards) if fmt == "table" else render.RENDERERS[fmt](boards)
    if output:
        from benchgen.atomic import write_text

        write_text(output, text)  # a full disk names the file and leaves the previous one
        console.print(f"wrote {output}", markup=False)
    else:
        out.file.write(text)


def _boards(suite: str | None, profile: str | None, all_configs: bool, results: Path | None,
            records: Path | None) -> list[Any]:
    """The boards of an exported records file, or of the store (a suite file: its configs as it stands)."""
    from benchgen import paths
    from benchgen.board import build
    from benchgen.results.store import open_existing, read_export

    is_file = bool(suite and (suite.endswith(".toml") or Path(suite).is_file()))
    if records is not None:
        if is_file:
            raise ConfigError(f"--suite {suite}: with --records, name a stored suite, not a suite file")
        recs = read_export(records)
        stored = sorted({r["suite"] for r in recs})
        if suite and suite not in stored:
            raise ConfigError(f"--suite {suite}: no records of it in {records}", f"it holds: {', '.join(stored)}")
        return build.build_boards([r for r in recs if (not suite or r["suite"] == suite)
                                   and (not profile or r["profile"] == profile)])
    store = open_existing(results or paths.default_results())
    try:
        if suite and is_file:
            from benchgen.board.select import suite_boards
            from benchgen.suite.load import load_suite

            return suite_boards(load_suite(suite, profile or "auto"), store, all_configs)
        return build.stored_boards(store, suite, profile)
    finally:
        store.close()


@app.command("export")
@handle_errors
def export_cmd(
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or jsonl"),
    suite: str = typer.Option(None, "--suite", "-s", help="Only this stored suite (by name)."),
    results: Path = typer.Option(None, "--results", help=RESULTS_HELP),
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file instead of stdout."),
) -> None:
    """Every stored record with its full provenance, as CSV or JSON lines."""
    from benchgen import paths
    from benchgen.results import store

    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose csv or jsonl")
    db = store.open_existing(results or paths.default_results())
    records = db.records(suite=suite)
    db.close()
    if output:
        import io

        from benchgen.atomic import write_text

        buf = io.StringIO(newline="")
        store.export(records, fmt, buf)
        write_text(output, buf.getvalue())
        console.print(f"wrote {len(records)} records to {output}", markup=False)
    else:
        store.export(records, fmt, out.file)  # type: ignore[arg-type]  # rich types its file as IO[str]; export writes text only


LIST_STYLES = {"broken": "red", "conflict": "yellow", "shadowed": "yellow"}


def _first_line(text: str | None) -> str:
    """The docstring's whole first paragraph on one line (the table wraps it; nothing is cut off)."""
    paragraph = (text or "").strip().split("\n\n")[0]
    return " ".join(paragraph.split())


def _list_row(e: Entry) -> dict[str, Any]:
    """One `benchgen list` row. A plugin that is not imported yet is described from its source file."""
    doc: str | None
    version: str | None
    if e.cls is not None:
        doc, version = e.cls.__doc__, e.cls.version
    else:
        info = e.source()
        doc, version = info.doc, info.version
    return {"kind": e.kind, "name": e.ref, "entry_point_name": e.name, "qualified_name": e.qualified,
            "distribution": e.distribution, "dist_version": e.dist_version, "plugin_version": version,
            "status": e.status, "entry_point": e.value, "error": e.error or e.note, "doc": _first_line(doc)}


def _list_detail(e: Entry) -> dict[str, Any]:
    """Everything about one plugin, importing it: docstring, version and its params (name, type, default)."""
    from benchgen import registry
    from benchgen.errors import PluginError
    from benchgen.params import describe

    detail = {k: v for k, v in _list_row(e).items() if k not in ("doc", "error")}
    detail.update(error=e.note, details=None, doc="", params=None,
                  also=[f"{o.distribution} {o.dist_version} as '{o.ref}'" for o in registry.group(e.kind, e.name)
                        if o is not e])
    try:
        cls = registry.load_entry(e)
    except PluginError as exc:
        detail.update(status=e.status, error=exc.message, details=exc.debug_details, doc=e.source().doc)
        return detail
    detail.update(status=e.status, plugin_version=cls.version, doc=inspect.cleandoc(cls.__doc__ or ""))
    try:
        detail["params_class"] = cls.Params.__name__
        detail["params"] = [{"name": n, "type": t, "default": d} for n, t, d in describe(cls.Params)]
    except Exception as exc:  # a Params class the parser cannot describe: say so, list the rest
        detail["params"] = []
        detail["error"] = f"cannot describe {cls.Params!r}: {type(exc).__name__}: {exc}"
    return detail


def _print_detail(d: dict[str, Any]) -> None:
    from rich.table import Table

    out.print(f"[bold]{d['kind'][:-1]} {escape(d['name'])}[/]", highlight=False)
    facts = [("distribution", f"{d['distribution']} {d['dist_version']}"), ("entry point", d["entry_point"]),
             ("status", d["status"]), ("version", d["plugin_version"] or "?")]
    facts += [("also", a) for a in d["also"]]
    if d["error"]:
        facts.append(("error" if d["status"] == "broken" else "note", d["error"]))
    for key, value in facts:
        out.print(f"  {key:13s} {escape(str(value))}", highlight=False,
                  style=LIST_STYLES.get(d["status"]) if key in ("status", "error", "note") else None)
    if d["details"] and state["debug"]:
        console.print(d["details"].rstrip("\n"), markup=False, highlight=False, style="dim")
    if d["doc"]:
        out.print()
        for line in d["doc"].splitlines():
            out.print(f"  {escape(line)}", highlight=False)
    if d["params"] is not None:
        out.print()
        if not d["params"]:
            out.print("  no parameters")
            return
        table = Table(title=f"params ({d.get('params_class', 'Params')})", title_justify="left")
        for col in ("name", "type", "default"):
            table.add_column(col)
        for prm in d["params"]:
            table.add_row(escape(prm["name"]), escape(prm["type"]), escape(repr(prm["default"])))
        out.print(table)


@app.command("list")
@handle_errors
def list_cmd(
    name: str = typer.Argument(None, metavar="[NAME]", help="Show one plugin in detail (this imports it); "
                               "a plain or qualified (dist:name) name."),
    kind: str = typer.Option(None, "--kind", "-k", help="generators, metrics, preprocessors, datasets or features"),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
    check: bool = typer.Option(False, "--check", help="Import every plugin: status loaded or broken, with the error."),
) -> None:
    """Every installed plugin: kind, name, distribution, status and description, read from the plugins'
    source files without importing them (status `available`); `--check` imports each one (`loaded` or
    `broken` with its error). `benchgen list NAME` shows one plugin in detail, with its params."""
    from rich.table import Table

    from benchgen import registry

    if kind and kind not in registry.KIND_NAMES:
        raise ConfigError(f"--kind: {kind!r} is not a plugin kind; choose one of {', '.join(registry.KIND_NAMES)}")
    if fmt not in ("table", "json"):
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose table or json")
    if name:
        details = [_list_detail(e) for e in registry.matching(name, kind)]
        if fmt == "json":
            out.file.write(json.dumps(details, indent=2, default=str) + "\n")
            return
        for i, d in enumerate(details):
            if i:
                out.print()
            _print_detail(d)
        return
    entries = registry.check_all() if check else registry.all_entries()
    order = {k: i for i, k in enumerate(registry.KIND_NAMES)}
    entries = sorted((e for e in entries if not kind or e.kind == kind),
                     key=lambda e: (order[e.kind], e.name, not e.builtin, e.ref))
    rows = [_list_row(e) for e in entries]
    if fmt == "json":
        out.file.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="benchgen plugins")
    for col in ("kind", "name", "distribution", "status", "description / error"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["kind"], escape(r["name"]), escape(f"{r['distribution']} {r['dist_version']}"), r["status"],
                      escape(r["error"] or r["doc"]), style=LIST_STYLES.get(r["status"]))
    out.print(table)
    if not check:
        console.print("[dim]status 'available': found, not imported; `benchgen list --check` imports each one[/]")


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
    from benchgen import leftovers

    temps = leftovers.temporaries()
    if temps:  # under the caches and runs/: removed by the next run or `cache clear`
        size = sum(leftovers.size(p) for p in temps)
        out.print(f"  {'leftovers':12s} {len(temps):5d} entries  {size / 1e6:10.1f} MB  temporary files of "
                  "interrupted runs (the next run or `benchgen cache clear` removes them)", markup=False,
                  highlight=False)


@cache_app.command("clear")
@handle_errors
def cache_clear(
    kind: str = typer.Argument("all", help="all or one cache kind (see `benchgen cache list`)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be deleted."),
) -> None:
    """Delete a cache (results in the SQLite store are kept); asks first unless --yes."""
    from benchgen import paths

    usage = {k: (n, size) for k, n, size in paths.cache_usage()}
    kinds = paths.cache_kinds(kind)
    entries = sum(usage[k][0] for k in kinds)
    size = sum(usage[k][1] for k in kinds)
    what = f"{entries} entries, {size / 1e6:.1f} MB in {', '.join(kinds)} under {paths.cache_dir()}"
    from benchgen import leftovers

    temps = len(leftovers.temporaries())
    if dry_run:
        what += f" and {temps} leftovers of interrupted runs" if temps else ""
        out.print(f"would delete {what}", markup=False, highlight=False)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"benchgen cache clear {kind}: would delete {what}",
                              "confirm with --yes (or look first with --dry-run)")
        typer.confirm(f"Delete {what}?", abort=True)
    paths.clear_cache(kind)
    swept = leftovers.sweep(older_than=float("inf"))  # interrupted runs' temporaries too (not a fit saving now)
    out.print(f"cleared {kind} ({what}{f'; {len(swept)} leftovers' if swept else ''})", markup=False,
              highlight=False)
