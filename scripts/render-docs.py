#!/usr/bin/env python3
"""Render every measured number of README.md and docs/*.md from the committed result bundles.

A bundle is ``docs/results/<suite>-<profile>.jsonl`` (``benchgen export --format jsonl`` of one run) beside
``<suite>-<profile>.timing.json`` (the command, date, machine, wall time and peak memory of that run).
Docs hold blocks between markers, and this script rewrites what is between them:

    <!-- board: healthy_t1-quick -->            the terminal board (`benchgen leaderboard --records ...`)
    <!-- board: healthy_t1-quick format=markdown metrics=mmd,frd -->   a Markdown board, some columns
    <!-- legend: healthy_t1-quick -->           the full legend (`benchgen leaderboard --explain`)
    <!-- timing: healthy_t1-quick -->           one sentence: command, wall, peak memory, machine, date
    <!-- timings -->                            a table of every bundle's timing record
    ...
    <!-- /board -->  (or /legend, /timing, /timings)

Usage:
    python scripts/render-docs.py                 re-render every block in place
    python scripts/render-docs.py --check         exit 1 and name each block that differs from its render
    python scripts/render-docs.py measure benchmarks/healthy_t1.toml [--profile quick]
        run the suite from scratch (a fresh BENCHGEN_HOME), time it, write its bundle, re-render the docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
WIDTH = 100  # `benchgen leaderboard` prints boards 100 columns wide when its output is not a terminal
BLOCK = re.compile(r"<!-- (board|legend|timing|timings)(?::\s*(\S+))?((?:\s+\w+=\S+)*)\s*-->\n(.*?)<!-- /\1 -->",
                   re.DOTALL)


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def bundle_path(name: str, root: Path = ROOT) -> Path:
    path = root / "docs" / "results" / f"{name}.jsonl"
    if not path.is_file():
        raise SystemExit(f"error: no bundle {path.relative_to(root)} (write it with: python scripts/render-docs.py "
                         "measure SUITE --profile PROFILE)")
    return path


def boards(name: str, root: Path = ROOT) -> list[Any]:
    """The boards of a bundle, read as `benchgen leaderboard --records` reads it."""
    from benchgen.board.build import build_boards
    from benchgen.results.store import read_export

    return build_boards(read_export(bundle_path(name, root)))


def render_board(name: str, options: dict[str, str], root: Path = ROOT) -> str:
    from rich.console import Console

    from benchgen.board import build, render

    bs = build.select(boards(name, root), options.get("metrics"))
    command = f"benchgen leaderboard --records docs/results/{name}.jsonl" + (
        f" --metrics {options['metrics']}" if "metrics" in options else "")
    if options.get("format") == "markdown":
        return render.render_markdown(bs)
    buf = io.StringIO()
    Console(file=buf, width=WIDTH, soft_wrap=True, color_system=None).print(render.render_table(bs, WIDTH))
    lines = [line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines()]
    return "```text\n$ " + command + "\n" + "\n".join(lines) + "\n```\n"


def render_legend(name: str, root: Path = ROOT) -> str:
    from benchgen.board.legend import explain

    return "```text\n$ benchgen leaderboard --records docs/results/" + name + ".jsonl --explain\n" + \
        explain(boards(name, root)).rstrip("\n") + "\n```\n"


def timing(name: str, root: Path = ROOT) -> dict[str, Any]:
    path = root / "docs" / "results" / f"{name}.timing.json"
    if not path.is_file():
        raise SystemExit(f"error: no timing record {path.relative_to(root)}")
    return dict(json.loads(path.read_text()))


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(round(seconds % 60)):02d}"


def render_timing(name: str, root: Path = ROOT) -> str:
    t = timing(name, root)
    note = f" ({t['note']})" if t.get("note") else ""
    return (f"`{t['command']}`: {_minutes(t['wall_s'])} wall (min:s), {t['peak_rss_gb']:.2f} GB peak memory, "
            f"on {t['machine']}, {t['date']}, benchgen {t['benchgen_git'][:7]}{note}.\n")


def render_timings(root: Path = ROOT) -> str:
    rows = ["| run | wall (min:s) | peak memory | machine | date | note |", "|---|---|---|---|---|---|"]
    for path in sorted((root / "docs" / "results").glob("*.timing.json")):
        t = json.loads(path.read_text())
        rows.append(f"| `{t['command']}` | {_minutes(t['wall_s'])} | {t['peak_rss_gb']:.2f} GB | {t['machine']} | "
                    f"{t['date']} | {t.get('note', '')} |")
    return "\n".join(rows) + "\n"


def render_block(kind: str, name: str | None, options: dict[str, str], root: Path = ROOT) -> str:
    if kind == "timings":
        return render_timings(root)
    if not name:
        raise SystemExit(f"error: a <!-- {kind}: NAME --> block needs a bundle name")
    return {"board": lambda: render_board(name, options, root), "legend": lambda: render_legend(name, root),
            "timing": lambda: render_timing(name, root)}[kind]()


def rendered(text: str, root: Path = ROOT) -> str:
    """`text` with every block replaced by the render of its bundle."""
    def one(m: re.Match[str]) -> str:
        options = dict(o.split("=", 1) for o in m.group(3).split())
        head = m.group(0)[:m.group(0).index("-->") + 4]
        return f"{head}{render_block(m.group(1), m.group(2), options, root)}<!-- /{m.group(1)} -->"

    return BLOCK.sub(one, text)


def stale(root: Path = ROOT) -> list[str]:
    """`file: block` for every block whose text differs from the render of its bundle."""
    out = []
    for path in doc_files(root):
        text = path.read_text()
        for m in BLOCK.finditer(text):
            if rendered(m.group(0), root) != m.group(0):
                out.append(f"{path.relative_to(root)}: <!-- {m.group(1)}{': ' + m.group(2) if m.group(2) else ''} -->")
    return out


def render_all(root: Path = ROOT) -> list[Path]:
    changed = []
    for path in doc_files(root):
        text = path.read_text()
        new = rendered(text, root)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def machine() -> str:
    """CPU model, cores, memory and GPU of this machine, in words."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU") \
        if Path("/proc/cpuinfo").exists() else platform.processor() or "unknown CPU"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except ImportError:
        gpu = "GPU unknown"
    return f"{model}, {os.cpu_count()} cores, {mem:.0f} GB RAM, {gpu}"


def measure(suite: Path, profile: str, note: str) -> None:
    """Run `suite` from scratch, time it, write its bundle and timing record, re-render the docs."""
    home = Path(tempfile.mkdtemp(prefix="benchgen-measure-"))
    env = {**os.environ, "BENCHGEN_HOME": str(home)}
    command = ["benchgen", "run", str(suite)] + (["--profile", profile] if profile != "auto" else [])
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # Linux: kB
    store = home / "results.sqlite"
    runs = json.loads(subprocess.run(["benchgen", "leaderboard", "--results", str(store), "--format", "json"],
                                     env=env, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
    name, chosen = runs["boards"][0]["suite"], runs["boards"][0]["profile"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{chosen}.jsonl"
    subprocess.run(["benchgen", "export", "--format", "jsonl", "--results", str(store), "--suite", name,
                    "-o", str(out)], env=env, check=True, cwd=ROOT)
    git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    record = {"command": shlex.join(command), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),
              "machine": machine(), "wall_s": round(wall, 1), "peak_rss_gb": round(peak_gb, 2),
              "benchgen_git": git, "note": note}
    (RESULTS / f"{name}-{chosen}.timing.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)} and its timing record; results kept in {home}")


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report blocks that differ from their render")
    sub = parser.add_subparsers(dest="command")
    m = sub.add_parser("measure", help="run a suite from scratch and write its bundle")
    m.add_argument("suite", type=Path)
    m.add_argument("--profile", default="auto")
    m.add_argument("--note", default="", help="what else ran on the machine, if anything")
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args.suite, args.profile, args.note)
    if args.check:
        differ = stale()
        for line in differ:
            print(f"differs from its bundle: {line}")
        return 1 if differ else 0
    for path in render_all():
        print(f"rendered {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
