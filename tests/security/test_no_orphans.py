"""No orphans: kill -9 of a run with `jobs = 2` while it preprocesses leaves no process behind — the spawn
workers notice their parent is gone and exit, and with them the multiprocessing resource tracker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.suites import tiny_suite

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from benchgen.cli import main; sys.argv[0] = 'benchgen'; main()"

BIG = tiny_suite("orphans", generators=["noise"], evaluation={"bootstrap": None},
                 dataset={"shape": [16, 24, 16], "params": {"n_subjects": 3000, "voxel_mm": 2.0}, "jobs": 2})



def _ppids() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    out[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return out


def descendants(pid: int) -> set[int]:
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return {p.pid for p in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()
    ppids, found, todo = _ppids(), set(), [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in ppids.items() if pp == parent and p not in found]
        found.update(kids)
        todo += kids
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_during_parallel_preprocessing_leaves_no_process(tmp_path):
    suite = tmp_path / "orphans.toml"
    suite.write_text(BIG)
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("BENCHGEN_CACHE", None)
    proc = subprocess.Popen([sys.executable, "-c", CLI, "run", str(suite), "--profile", "default", "--quiet"],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        workers: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= descendants(proc.pid)
            workers = {p for p in seen if "spawn_main" in cmdline(p) and alive(p)}
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert len(workers) >= 2, f"no pool workers appeared: {[cmdline(p) for p in seen]}"
        time.sleep(3)  # let them get to work
        seen |= descendants(proc.pid)
        assert proc.poll() is None, "the run finished before it could be killed: make BIG bigger"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in seen):
            time.sleep(0.2)
        left = {p: cmdline(p) for p in seen if alive(p)}
        assert not left, f"survived the kill of their parent: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in seen:  # only the processes this test started (the run's descendants), by id
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
