"""Every script under benchmarks/ imports and answers --help (docs tell readers to run them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.rglob("*.py"))


def test_there_are_scripts():
    assert len(SCRIPTS) >= 4, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(BENCHMARKS)))
def test_script_help(script: Path):
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{script.name} --help failed:\n{proc.stderr[-2000:]}"
    assert "usage" in proc.stdout.lower(), proc.stdout[:500]


def test_ci_coverage_runs_end_to_end_on_a_tiny_pool(tmp_path):
    import os

    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home")}
    env.pop("BENCHGEN_CACHE", None)
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "ci_coverage.py"), "--pool", "120", "--reps", "2",
                           "--truth-draws", "2", "--bootstrap", "10", "--n-real", "10", "--n-synthetic", "6",
                           "--jobs", "1", "--save", str(tmp_path / "reps.json")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| mmd |") or line.startswith("| kid |")]
    assert len(rows) == 4, proc.stdout  # same and noisy scenarios of both
    import json

    saved = json.loads((tmp_path / "reps.json").read_text())
    assert len(saved["reps"]) == 2 and "mmd|same" in saved["truth"]
