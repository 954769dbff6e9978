"""kill -9 in each stage of an ldm fit (the autoencoder, then the denoiser), resume twice: the same
autoencoder and denoiser weights as an uninterrupted run (CPU, deterministic mode)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchgen_ddpm.checkpoint import load_training_state

from .conftest import tiny

SCRIPT = Path(__file__).parents[1] / "ddpm" / "train_script.py"
PARAMS = json.dumps(tiny(ae_max_steps=12, max_steps=12, checkpoint_every=3, ema_decay=0.9, val_every=2))


def run(workdir: Path) -> dict:
    out = subprocess.run([sys.executable, str(SCRIPT), "--plugin", "ldm", "--workdir", str(workdir),
                          "--params", PARAMS], capture_output=True, text=True, timeout=300, check=True).stdout
    return next(json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT "))


def kill_when(work: Path, stage: str, step: int) -> int:
    """Start a slowed-down fit and kill -9 it once `stage`'s saved state has reached `step`."""
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--plugin", "ldm", "--workdir", str(work), "--params",
                             PARAMS, "--sleep", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    folder = work / stage
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = load_training_state(folder) if (folder / "latest.json").exists() else None
            if state is not None and state[1]["step"] >= step:
                break
            assert proc.poll() is None, f"the fit ended before its {stage} stage could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return int(load_training_state(folder)[1]["step"])


def test_kill_9_in_each_stage_then_resume_reproduces_the_uninterrupted_fit(tmp_path: Path):
    ref = run(tmp_path / "ref")
    work = tmp_path / "killed"
    ae_at = kill_when(work, "autoencoder", 3)
    assert 3 <= ae_at < 12 and not (work / "diffusion" / "latest.json").exists()
    dm_at = kill_when(work, "diffusion", 3)  # resumes the autoencoder, then dies in the denoiser
    assert 3 <= dm_at < 12
    resumed = run(work)
    assert resumed["info"]["resumed_from"] == dm_at and resumed["info"]["steps"] == 12
    assert resumed["autoencoder"] == ref["autoencoder"]
    assert resumed["weights"] == ref["weights"]
    assert resumed["info"]["autoencoder"]["scale_factor"] == ref["info"]["autoencoder"]["scale_factor"]
