"""Command-line interface: `benchgen run|validate|list|leaderboard|export|evaluate|train|sample|check|...`."""

import importlib

from benchgen.cli.app import app

# Each module registers its commands on `app` when imported.
COMMAND_MODULES = ["run", "results", "evaluate", "preprocess", "data", "check"]


def main() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"benchgen.cli.{name}")
    app()
