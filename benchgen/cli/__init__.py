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


def quiet_openmp_waits() -> None:
    """Idle OpenMP threads sleep instead of spinning (unless OMP_WAIT_POLICY is set already). Spinning threads keep
    their core busy between parallel regions, so beside another busy process torch's threads mostly wait on each
    other: a training step ran 3-6x slower than with PASSIVE (docs/performance.md, `cpu.py threads`). OpenMP reads
    the variable when torch loads it, so this runs before any command module is imported."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    quiet_openmp_waits()
    try:
        load_commands()()
    except BrokenPipeError:  # `benchgen export | head`: the reader left; exit quietly like other tools
        import os
        import sys

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes stdout at exit
        sys.exit(141)
