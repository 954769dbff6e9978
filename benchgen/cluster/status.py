"""A run folder's units as they stand: done (a complete shard), running, failed (with the reason), waiting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchgen.cluster.ledger import RunFolder, pid_alive
from benchgen.cluster.shards import read_shards


@dataclass
class UnitState:
    unit: str
    state: str  # done | running | failed | waiting | lost
    job_id: str
    reason: str


def unit_states(folder: RunFolder) -> tuple[list[UnitState], list[str]]:
    """Each planned unit's state, and one line per shard that cannot be merged."""
    shards = read_shards(folder.path, folder.identity)
    complete = shards.complete_units
    out = []
    for unit in folder.units:
        job = folder.jobs.get(unit.id, {})
        job_id, reason = str(job.get("job_id", "")), str(job.get("reason", ""))
        if unit.id in complete:
            state, reason = "done", ""
        elif job.get("state") == "failed":
            state = "failed"
        elif job.get("state") == "submitted":
            state = "running" if _alive(job) else "lost"
            reason = "" if state == "running" else "its job ended without a result; run again to resubmit it"
        else:
            state = "done" if job.get("state") == "done" else "waiting"
        out.append(UnitState(unit.id, state, job_id, reason))
    return out, shards.problems


def _alive(job: dict[str, Any]) -> bool:
    """Whether a submitted job is still queued or running (SLURM: squeue; local: its controller's pid)."""
    if job.get("executor") == "slurm":
        from benchgen.cluster.slurm_state import alive, squeue_states

        return alive(squeue_states([str(job["job_id"])]).get(str(job["job_id"])))
    return pid_alive(str(job.get("job_id", "")))


def render_states(states: list[UnitState]) -> str:
    counts = {s: sum(1 for u in states if u.state == s) for s in ("done", "running", "waiting", "failed", "lost")}
    lines = [" · ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("done", "running", "failed"))]
    width = max((len(u.unit) for u in states), default=4)
    for u in states:
        job = f" job {u.job_id}" if u.job_id else ""
        reason = u.reason.removeprefix(f"job {u.job_id}").lstrip(": ")  # the job id is in its own column
        lines.append(f"  {u.unit:<{width}}  {u.state:<8}{job}{': ' + reason if reason else ''}")
    return "\n".join(lines)
