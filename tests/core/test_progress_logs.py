"""Progress reaches logs: with stderr piped to a file, a run prints plain training progress lines while it
runs (stage, i/n, elapsed, ETA, loss), and every run leaves the same lines in runs/<suite>/<profile>/run.log."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

from rich.console import Console

from benchgen.progress import ProgressReporter
from tests.suites import TINY_UNET, tiny_suite

SUITE = tiny_suite("progress_logs", dataset={"params": {"n_subjects": 12, "voxel_mm": 6.0}},
                   generators={"ddpm": {"params": {**TINY_UNET, "max_steps": 60, "batch_size": 2, "val_every": 0,
                                                   "sampler": "ddim", "inference_steps": 3, "lr": 1e-3}}},
                   evaluation={"n_samples": 3, "bootstrap": 5})



def test_piped_stderr_shows_training_progress_while_it_runs(tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    err = tmp_path / "stderr.txt"
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"), "BENCHGEN_PROGRESS_INTERVAL": "0"}
    env.pop("BENCHGEN_CACHE", None)
    with open(err, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", "from benchgen.cli import main; main()", "run", str(suite),
                                 "--results", str(tmp_path / "r.sqlite")], stderr=f, stdout=subprocess.DEVNULL,
                                env=env)
        seen_while_running = False
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if "ddpm: training" in err.read_text():
                seen_while_running = True
                break
            time.sleep(0.2)
        rc = proc.wait(timeout=300)
    text = err.read_text()
    assert rc == 0, text[-2000:]
    assert seen_while_running, "no progress line appeared before the run ended"
    lines = [ln for ln in text.splitlines() if ln.startswith("ddpm: training")]
    assert len(lines) >= 3 and "60/60 (100%)" in lines[-1] and "loss=" in lines[-1]
    assert any(" eta " in ln for ln in lines[:-1])
    assert "\x1b[" not in text  # plain text, no terminal control codes
    log = tmp_path / "home" / "runs" / "progress_logs" / "default" / "run.log"
    assert "ddpm: training 60/60 (100%)" in log.read_text()


def test_terminal_bars_collapse_when_done_and_plain_lines_are_throttled():
    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=120)
    with ProgressReporter(term) as p:
        for i in range(1, 6):
            p("features", i, 5)
    out = buf.getvalue()
    assert "✓" in out and "features 5/5 (100%)" in out
    buf = io.StringIO()
    plain = Console(file=buf, force_terminal=False)
    with ProgressReporter(plain, interval_s=3600) as p:
        for i in range(1, 101):
            p("scoring", i, 100)
    lines = buf.getvalue().splitlines()
    assert lines == ["scoring 1/100 (1%) elapsed 0:00 eta 0:00", "scoring 100/100 (100%) elapsed 0:00"]
