"""Command-line interface: `benchgen run|validate|list|leaderboard|export|evaluate|train|sample|check|...`."""

import importlib

import typer

from benchgen.cli.app import app

# Each module registers its commands on `app` when imported.
COMMAND_MODULES = ["run", "cluster", "results", "compare", "evaluate", "preprocess", "data", "check"]


def load_commands() -> typer.Typer:
    """The Typer app with every command registered (what `benchgen` runs; tests invoke it directly)."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"benchgen.cli.{name}")
    return app


def main() -> None:
    try:
        load_commands()()
    except BrokenPipeError:  # `benchgen export | head`: the reader left; exit quietly like other tools
        import os
        import sys

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        sys.exit(141)
