"""`benchgen check NAME [--kind KIND] [--param KEY=VALUE ...] [--format table|json]`: run the plugin
contract checks of :mod:`benchgen.testing` on one installed plugin, one line per check."""

from __future__ import annotations

import json
import time
from typing import Any, Sequence

import typer
from rich.markup import escape
from rich.text import Text

from benchgen.cli.app import app, console, fail, handle_errors, out, state
from benchgen.errors import ConfigError

FORMATS = ("table", "json")
STYLES = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def parse_check_params(items: Sequence[str], name: str) -> dict[str, Any]:
    """``--param KEY=VALUE`` (TOML values) for the plugin `name`; ``NAME.KEY=VALUE`` is accepted too."""
    from benchgen.params import parse_overrides

    parsed = parse_overrides(items, "KEY=VALUE, e.g. temperature=0.8", default_owner=name)
    others = sorted(set(parsed) - {name})
    if others:
        raise ConfigError(f"--param {others[0]}.…: expected KEY=VALUE for plugin '{name}'")
    return parsed.get(name, {})


def check_plugin(name: str, kind: str | None = None, params: dict[str, Any] | None = None) -> Any:
    """A :class:`benchgen.testing.Checker` for the installed plugin `name` (its kind found, or checked)."""
    from benchgen.testing import Checker, find_kind

    return Checker(find_kind(name, kind), name, params)


def _line(result: Any, width: int) -> Text:
    """``PASS  name  detail · 1.2 s``: one line per check."""
    line = Text.assemble((result.status.upper(), STYLES[result.status]), "  ", result.name)
    detail = " · ".join(filter(None, [result.message, f"{result.seconds:.1f} s" if result.seconds >= 0.1 else ""]))
    if detail:
        line.append(" " * (width - len(result.name) + 2) + detail)
    return line


@app.command("check")
@handle_errors
def check_cmd(
    name: str = typer.Argument(..., metavar="NAME", help="An installed plugin's name, e.g. example-meanvar."),
    kind: str = typer.Option(None, "--kind", "-k", help="generators, metrics, preprocessors, datasets or features "
                             "(needed when NAME is a plugin of several kinds)."),
    param: list[str] = typer.Option([], "--param", "-p", help="KEY=VALUE (TOML value) on top of the plugin's "
                                    "tiny_params; repeat."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
) -> None:
    """Run the plugin contract checks on one installed plugin (built with its tiny_params, on tiny
    brain-like inputs): PASS / FAIL / SKIP per check; exit 1 naming the failed checks. With --debug,
    print the plugin's traceback under each failed check."""
    from benchgen import registry

    if fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not allowed; choose one of {', '.join(FORMATS)}")
    checker = check_plugin(name, kind, parse_check_params(param, name))
    entry = registry.entries(checker.kind)[name]
    width = max(len(c.name) for c in checker.checks)
    start = time.perf_counter()
    with checker:
        if fmt == "table":
            console.print(f"checking {checker.kind[:-1]} [bold]{escape(name)}[/] from {escape(entry.distribution)} "
                          f"{escape(str(entry.dist_version))}", highlight=False)
        results = []
        for result in checker.iter_run():
            results.append(result)
            if fmt == "table":
                out.print(_line(result, width), highlight=False)
                if result.failed and result.traceback and state["debug"]:
                    out.print(Text(result.traceback.rstrip()), highlight=False)
        seconds = time.perf_counter() - start
        failed = [r.name for r in results if r.failed]
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip")}
        if fmt == "json":
            built = checker.state.get("plugin")
            payload = {"plugin": name, "kind": checker.kind, "distribution": entry.distribution,
                       "dist_version": entry.dist_version,
                       "params": built.config()["params"] if built is not None else None,
                       "passed": not failed, "counts": counts, "seconds": round(seconds, 2),
                       "checks": [r.to_dict() for r in results]}
            out.print_json(json.dumps(payload, default=str))
        else:
            out.print(f"{len(results)} checks: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} "
                      f"skipped · {seconds:.1f} s", highlight=False)
    if failed:
        with_tb = any(r.traceback for r in results if r.failed)
        fail(f"{checker.kind[:-1]} '{name}' failed {len(failed)} check(s): {', '.join(failed)}",
             "re-run with --debug for the plugin's traceback" if with_tb and not state["debug"] else None, code=1)
