"""kill -9 in the middle of training, then resume: the same loss trajectory and weights as an
uninterrupted run (CPU, deterministic mode). And a 2-process `accelerate launch` run (gloo):
identical weights on both ranks, files written by rank 0 only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchgen_ddpm.checkpoint import load_training_state
from benchgen_ddpm.telemetry import read_losses

from .conftest import tiny

SCRIPT = Path(__file__).with_name("train_script.py")
PARAMS = json.dumps(tiny(max_steps=24, checkpoint_every=3, ema_decay=0.9, val_every=2, warmup_steps=4))


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=True, **kw)


def result(stdout: str) -> list[dict]:
    return [json.loads(line[len("RESULT "):]) for line in stdout.splitlines() if line.startswith("RESULT ")]


def test_kill_9_then_resume_reproduces_the_uninterrupted_run(tmp_path: Path):
    ref = result(run(["--workdir", str(tmp_path / "ref"), "--params", PARAMS]).stdout)[0]
    assert ref["info"]["steps"] == 24 and ref["info"]["resumed_from"] is None

    work = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--workdir", str(work), "--params", PARAMS,
                             "--sleep", "0.15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = load_training_state(work) if (work / "latest.json").exists() else None
            if state is not None and state[1]["step"] >= 6:
                break
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_training_state(work)[1]["step"]
    assert 6 <= killed_at < 24
    rows_before = read_losses(work / "loss.csv")
    assert len(rows_before) >= killed_at  # rows past the checkpoint will be redone and replaced

    resumed = result(run(["--workdir", str(work), "--params", PARAMS]).stdout)[0]
    assert resumed["info"]["resumed_from"] == killed_at and resumed["info"]["steps"] == 24
    assert resumed["weights"] == ref["weights"]  # bit-identical final (EMA) weights
    a, b = read_losses(tmp_path / "ref" / "loss.csv"), read_losses(work / "loss.csv")
    assert [r["step"] for r in b] == list(range(1, 25))
    for ra, rb in zip(a, b):
        assert (ra["loss"], ra["lr"], ra["val_loss"]) == (rb["loss"], rb["lr"], rb["val_loss"])


def test_two_process_accelerate_launch(tmp_path: Path):
    params = json.dumps(tiny(max_steps=4, checkpoint_every=2, ema_decay=0.9, val_every=1, grad_accum=2))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(29500 + os.getpid() % 1000),
           str(SCRIPT), "--workdir", str(tmp_path), "--params", params, "--per-rank"]
    if not _gloo_ok():
        pytest.skip("torch.distributed with gloo is not available")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["rank"]: r for r in result(proc.stdout)}
    assert sorted(results) == [0, 1]
    assert results[0]["weights"] == results[1]["weights"]  # DDP kept both replicas identical
    # 4 steps x batch 2 x 2 processes x accumulation 2 over 6 volumes: the data were split over 2 ranks
    assert results[0]["info"]["epochs"] == pytest.approx(4 * 2 * 2 * 2 / 6)
    # only rank 0 wrote: its workdir and checkpoint exist, rank 1's do not
    assert (tmp_path / "rank0" / "loss.csv").exists() and (tmp_path / "ckpt0" / "weights.safetensors").exists()
    assert len(read_losses(tmp_path / "rank0" / "loss.csv")) == 4
    assert not (tmp_path / "rank1").exists() and not (tmp_path / "ckpt1").exists()


def _gloo_ok() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_gloo_available()
