"""A results home written before the restructuring (tests/fixtures/home_v1: a tiny suite with holdout,
gaussian and a tiny DDPM, written by main at baaa472) opens under today's code with the identical board:
stored results, checkpoints, sample and dataset caches all keep their keys, so nothing is computed again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands

app = load_commands()

FIXTURE = Path(__file__).parents[1] / "fixtures" / "home_v1"


@pytest.fixture
def old_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(FIXTURE / "home", home)
    shutil.copy(FIXTURE / "tiny.toml", tmp_path / "tiny.toml")
    monkeypatch.setenv("BENCHGEN_HOME", str(home))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def cache_state(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_mtime_ns
            for p in sorted((home / "cache").rglob("*")) if p.is_file() and not p.name.startswith(".")}


def board(results: Path) -> dict:
    r = CliRunner().invoke(app, ["leaderboard", "--results", str(results), "-f", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def run(results: Path) -> str:
    r = CliRunner().invoke(app, ["run", "tiny.toml", "--results", str(results)])
    assert r.exit_code == 0, r.output
    return r.output


def test_the_old_store_opens_with_the_identical_board_and_nothing_computed(old_home):
    expected = json.loads((FIXTURE / "board.json").read_text())
    assert board(old_home / "results.sqlite") == expected
    before = cache_state(old_home)
    out = run(old_home / "results.sqlite")
    assert "0 cells computed, 12 cached, 0 errors" in out
    assert cache_state(old_home) == before


def test_the_old_checkpoints_and_samples_are_reused_by_a_fresh_store(old_home):
    """A new store recomputes the scores, but from the old caches: no generator is fitted or sampled again
    (the cache gains no file and no file changes) and the board is the same."""
    before = cache_state(old_home)
    fresh = old_home / "fresh.sqlite"
    out = run(fresh)
    assert "12 cells computed, 0 cached, 0 errors" in out
    assert cache_state(old_home) == before
    assert board(fresh)["boards"] == json.loads((FIXTURE / "board.json").read_text())["boards"]
