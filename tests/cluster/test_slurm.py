"""Opt-in: a tiny suite through a real SLURM scheduler gives the in-process board. Skipped without `sbatch`
on PATH; bring up a one-node cluster with scripts/slurm-localhost.sh (docs/cluster.md). The test's temporary
folders must be visible to the compute node: on a one-node cluster they are."""

import shutil
import subprocess

import pytest

from benchgen.cluster.submit import run_on_executor
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.cluster.test_local_executor import TINY, board

pytestmark = pytest.mark.skipif(shutil.which("sbatch") is None, reason="no sbatch on PATH (no SLURM cluster)")


def test_slurm_executor_gives_the_in_process_board(cluster_env, suite_file, monkeypatch):
    up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=60)
    if not any(s.strip() in ("idle", "mixed", "allocated") for s in up.stdout.split()):
        pytest.skip(f"sbatch is there but no node is up (sinfo: {up.stdout.strip() or up.stderr.strip()})")
    suite = load_suite(suite_file(TINY), profile="default")
    monkeypatch.setenv("BENCHGEN_HOME", str(cluster_env / "home-inprocess"))
    run_suite(suite, cluster_env / "a.sqlite", quiet=True)
    monkeypatch.setenv("BENCHGEN_HOME", str(cluster_env / "home-slurm"))
    s = run_on_executor(suite, cluster_env / "b.sqlite", "slurm", {"mem_gb": 1, "time_min": 10}, quiet=True)
    assert (s.computed, s.errors) == (4, [])
    assert board(suite, cluster_env / "b.sqlite") == board(suite, cluster_env / "a.sqlite")
