"""CLI habits: confirmation for cache clear, quiet exit on a closed pipe, every option has help, the Python
API takes tensors and arrays."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import benchgen
from benchgen import paths
from benchgen.cli import load_commands
from benchgen.errors import DataError

runner = CliRunner()


def test_cache_clear_asks_or_needs_yes_and_has_dry_run(home):
    (paths.cache_dir("samples") / "x").mkdir(parents=True)
    (paths.cache_dir("samples") / "x" / "f.bin").write_bytes(b"0" * 1000)
    app = load_commands()
    res = runner.invoke(app, ["cache", "clear", "samples", "--dry-run"])
    assert res.exit_code == 0 and "would delete 1 entries" in res.output
    assert (paths.cache_dir("samples") / "x").exists()
    res = runner.invoke(app, ["cache", "clear", "samples"], input="n\n")
    assert res.exit_code != 0 and (paths.cache_dir("samples") / "x").exists()
    res = runner.invoke(app, ["cache", "clear", "samples", "--yes"])
    assert res.exit_code == 0 and not (paths.cache_dir("samples") / "x").exists()
    res = runner.invoke(app, ["cache", "clear", "nope", "--yes"])
    assert res.exit_code == 2 and "unknown cache 'nope'" in res.output


def test_every_option_and_argument_has_help():
    import typer.main

    group = typer.main.get_command(load_commands())
    missing = []

    def walk(cmd, path):
        for p in cmd.params:
            if not getattr(p, "help", None) and p.name not in ("help",):
                missing.append(f"{path} {p.name}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")
    walk(group, "benchgen")
    assert missing == []


def test_export_into_a_closed_pipe_exits_quietly(fake_registry, suite_file, home, tmp_path):
    import os

    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite

    db = tmp_path / "r.sqlite"
    run_suite(load_suite(suite_file(), "default"), db, quiet=True)
    r, w = os.pipe()
    os.close(r)  # the reader has gone (like `| head` after its lines): the first write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-c", "from benchgen.cli import main; main()", "export", "--format",
                               "jsonl", "--results", str(db)], stdout=w, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(w)
    assert "Traceback" not in proc.stderr and "error" not in proc.stderr.lower(), proc.stderr
    assert proc.returncode in (0, 1, 141)  # click exits 1 on EPIPE; what matters is no message


@pytest.mark.parametrize("kind", ["tensor", "array4d"])
def test_python_api_takes_tensors_and_arrays(kind):
    rng = np.random.default_rng(0)
    real = rng.uniform(0, 1, (6, 8, 10, 8)).astype(np.float32)
    fake = np.clip(real[::-1] * 0.5, 0, 1)
    synth = torch.from_numpy(fake.copy())[:, None] if kind == "tensor" else fake
    out = benchgen.evaluate(real, synth, metrics=["mmd"], params={"mmd": {"bootstrap": 0}})
    assert out["n_real"] == 6 and out["n_synthetic"] == 6
    same = benchgen.evaluate(real, real.copy(), metrics=["mmd"], params={"mmd": {"bootstrap": 0}})
    assert out["metrics"]["mmd"]["value"] > same["metrics"]["mmd"]["value"]
    with pytest.raises(DataError, match="N×D×H×W"):
        benchgen.evaluate(real[0], synth, metrics=["mmd"])
