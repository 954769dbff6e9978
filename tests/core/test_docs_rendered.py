"""Numbers in the docs come from committed result bundles: every board, legend and timing block of README.md
and docs/*.md equals the render of its bundle (docs/results/), and `benchgen leaderboard --records` reads an
exported file exactly as it reads the store it came from. No suite is run here: the tests only render."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import re
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from benchgen.board.build import build_boards
from benchgen.board.render import render_json, render_markdown, render_table
from benchgen.cli import load_commands
from benchgen.results.store import Record, ResultStore, export, read_export
from tests.core.boards import healthy_records

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("render_docs", ROOT / "scripts" / "render-docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(boards) -> str:
    console = Console(width=100, file=io.StringIO(), soft_wrap=True)
    console.print(render_table(boards, width=100))
    return console.file.getvalue()


def test_every_doc_block_equals_the_render_of_its_bundle():
    script = _script()
    assert script.stale() == [], "re-render with: python scripts/render-docs.py"
    readme = (ROOT / "README.md").read_text()
    assert "<!-- board: healthy_t1-quick -->" in readme and "<!-- timing: healthy_t1-quick -->" in readme


def test_a_changed_number_in_a_doc_is_caught(tmp_path):
    """The check can fail: one digit changed in a copy of the README's board is reported."""
    script = _script()
    (tmp_path / "docs" / "results").mkdir(parents=True)
    for f in (ROOT / "docs" / "results").iterdir():
        (tmp_path / "docs" / "results" / f.name).write_bytes(f.read_bytes())
    readme = (ROOT / "README.md").read_text()
    board = re.search(r"<!-- board: healthy_t1-quick -->\n(.*?)<!-- /board -->", readme, re.DOTALL)
    assert board is not None
    cell = re.search(r"\d\.\d+", board.group(1))
    assert cell is not None
    changed = board.group(0).replace(cell.group(0), cell.group(0)[:-1] + str((int(cell.group(0)[-1]) + 1) % 10), 1)
    (tmp_path / "README.md").write_text(readme.replace(board.group(0), changed))
    assert script.stale(tmp_path) == ["README.md: <!-- board: healthy_t1-quick -->"]
    script.render_all(tmp_path)
    assert script.stale(tmp_path) == [] and (tmp_path / "README.md").read_text() == readme


def test_leaderboard_records_prints_exactly_the_readmes_board():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- board: healthy_t1-quick -->\n```text\n\$ (.*?)\n(.*?)```\n<!-- /board -->", readme,
                      re.DOTALL)
    assert block is not None
    res = CliRunner().invoke(load_commands(), block.group(1).split()[1:])
    assert res.exit_code == 0, res.output
    assert [line.rstrip() for line in res.stdout.splitlines()] == block.group(2).rstrip("\n").splitlines()


def test_export_then_records_renders_the_boards_of_the_store(tmp_path):
    """Every field round-trips (floats exactly, NaN and None included), so every renderer gives the same text."""
    store = ResultStore(tmp_path / "r.sqlite")
    recs = healthy_records()
    recs[0]["details"] = {"replicates": [0.1 + 1e-17 * i for i in range(20)] + [None], "ci_method": "percentile"}
    for r in recs:
        store.put(Record(**r))
    recs[1]["value"] = math.nan
    store.put(Record(**recs[1]))
    stored = store.records()
    store.close()
    path = tmp_path / "all.jsonl"
    with open(path, "w") as f:
        export(stored, "jsonl", f)
    back = read_export(path)
    assert json.dumps(back, sort_keys=True) == json.dumps(stored, sort_keys=True)
    a, b = build_boards(stored), build_boards(back)
    assert _text(a) == _text(b) and render_markdown(a) == render_markdown(b) and render_json(a) == render_json(b)
    res = CliRunner().invoke(load_commands(), ["leaderboard", "--records", str(path), "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == json.loads(render_json(a)), res.output


def test_bad_records_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"suite": "s"}\n')
    res = CliRunner().invoke(load_commands(), ["leaderboard", "--records", str(bad)])
    assert res.exit_code == 2 and "bad.jsonl:1: not a benchgen record (missing" in res.output, res.output
    bad.write_text("not json\n")
    res = CliRunner().invoke(load_commands(), ["leaderboard", "--records", str(bad)])
    assert res.exit_code == 2 and "bad.jsonl:1: not a JSON record" in res.output, res.output
