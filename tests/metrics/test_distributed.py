"""Under a 2-process CPU launch (gloo), feature extraction and MS-SSIM pairs are split across the
processes and gathered: every process ends with exactly the numbers of a single process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = Path(__file__).with_name("_dist_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(k, None)
    subprocess.run([sys.executable, str(WORKER), str(tmp_path)], env=env, check=True, timeout=300)
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(tmp_path)],
                              env={**env, "WORLD_SIZE": "2", "RANK": str(r), "LOCAL_RANK": str(r),
                                   "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
                                   "ACCELERATE_USE_CPU": "true"})
             for r in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    one = json.loads((tmp_path / "0-1.json").read_text())
    for rank in (0, 1):
        two = json.loads((tmp_path / f"{rank}-2.json").read_text())
        assert two["msssim"] == one["msssim"] and two["reference"] == one["reference"]
        assert two["ci"] == one["ci"] and two["fid"] == one["fid"] and two["fid_ci"] == one["fid_ci"]
        np.testing.assert_array_equal(np.array(two["features"]), np.array(one["features"]))
