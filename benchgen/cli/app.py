"""The Typer app and the one place user errors become one clear line.

Commands live in sibling modules (run.py, evaluate.py, ...) and register on ``app``; each is a thin
wrapper around a library function.
"""

from __future__ import annotations

import functools
import sys
import traceback
from typing import Any, Callable

import typer
from rich.console import Console
from rich.markup import escape

from benchgen import notices
from benchgen.errors import BenchgenError

app = typer.Typer(no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
                  help="benchgen: benchmark generative models of 3D brain MRI.")
console = Console(stderr=True, soft_wrap=True)  # progress and messages; stdout stays clean for --json / --format
# results; wide when piped so tables are not squeezed to 80 columns
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 100)  # piped: boards fit 100 columns
state = {"debug": False}


def fail(message: str, hint: str | None = None, code: int = 2) -> None:
    """Print one line (and a hint) to stderr and exit with `code`. Both are text, never markup: a message
    quotes suite keys like ``[suite]`` and paths like ``a[/x]``, which rich would eat or choke on."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    if hint:
        console.print(f"[dim]hint: {escape(hint)}[/]", highlight=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """One yellow line on stderr (registry warnings such as a shadowed plugin name come here)."""
    console.print(f"[yellow]warning: {escape(message)}[/]", highlight=False)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for commands: BenchgenError -> one line, exit 2 (with --debug, first its `debug_details` —
    e.g. a broken plugin's import traceback — or else its own traceback); Ctrl-C -> exit 130; any other
    exception -> one line, exit 1, or the traceback with --debug. Registry warnings print as yellow lines."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with notices.warning_handler(warn):
                return fn(*args, **kwargs)
        except BenchgenError as exc:
            if state["debug"]:
                details = exc.debug_details or traceback.format_exc()
                console.print(details.rstrip("\n"), markup=False, highlight=False, style="dim")
            fail(exc.message, exc.hint)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]; finished results are stored, re-run to resume")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, BrokenPipeError):  # a closed pipe is the reader's choice, not an error
            raise
        except Exception as exc:  # an unexpected failure: still one line unless --debug
            from benchgen.bounds import is_out_of_memory, memory_error_line

            if is_out_of_memory(exc):  # one line naming the stage and the sizes (the traceback too with --debug)
                if state["debug"]:
                    console.print(traceback.format_exc().rstrip("\n"), markup=False, highlight=False, style="dim")
                fail(*memory_error_line(exc, fn.__name__.removesuffix("_cmd").replace("_", " ")), code=1)
            if state["debug"]:
                raise
            fail(f"{type(exc).__name__}: {exc}", "re-run with --debug for the traceback", code=1)

    return wrapper


def version_callback(value: bool) -> None:
    if value:
        from benchgen import __version__
        out.print(f"benchgen {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks."),
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    state["debug"] = debug
    if debug:
        sys.tracebacklimit = 1000


def print_tracebacks(items: list[tuple[str, str | None]]) -> None:
    """With --debug: each failed item's plugin traceback (kept in its error record's details)."""
    for where, tb in items:
        if tb:
            console.rule(f"traceback: {escape(where)}", style="red")
            console.print(tb.rstrip(), markup=False, highlight=False)
