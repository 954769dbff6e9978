"""`benchgen` makes idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) before torch loads OpenMP, and keeps a
policy the user set."""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = """
import os, sys
import benchgen.cli as cli
assert "torch" not in sys.modules, "torch (and its OpenMP) loaded before main() could set the policy"
cli.quiet_openmp_waits()
import torch
print(os.environ["OMP_WAIT_POLICY"])
"""


def _policy(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_passive_unless_the_user_chose():
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy(env) == "PASSIVE"
    assert _policy({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
