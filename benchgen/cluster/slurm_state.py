"""Job states from ``squeue``, which every SLURM cluster answers: submitit asks ``sacct``, which needs an
accounting database that small clusters (and the one-node cluster of scripts/slurm-localhost.sh) lack, and
without it a job killed by the scheduler would never read as ended. ``squeue -t all`` keeps ended jobs for
the cluster's MinJobAge (300 s by default)."""

from __future__ import annotations

import re
import subprocess

ALIVE = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED", "REQUEUE_HOLD",
         "REQUEUE_FED", "SIGNALING", "STAGE_OUT")
_PENDING_ARRAY = re.compile(r"^(\d+)_\[")  # "123_[0-5%2]": array tasks not started yet


def squeue_states(job_ids: list[str]) -> dict[str, str]:
    """The state of each job id squeue still knows (``123`` or array task ``123_4``); unknown ids are left out."""
    if not job_ids:
        return {}
    bases = sorted({j.split("_")[0] for j in job_ids})
    try:
        out = subprocess.run(["squeue", "-h", "-t", "all", "-j", ",".join(bases), "-o", "%i %T"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found: dict[str, str] = {}
    pending: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        jid, state = parts
        m = _PENDING_ARRAY.match(jid)
        if m:
            pending[m.group(1)] = state
        else:
            found[jid] = state
    for j in job_ids:
        if j not in found and j.split("_")[0] in pending:
            found[j] = pending[j.split("_")[0]]
    return found


def alive(state: str | None) -> bool:
    return state is not None and state.split()[0].upper() in ALIVE
