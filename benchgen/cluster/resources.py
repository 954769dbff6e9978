"""What each unit of work asks the scheduler for: defaults, then the plugins' declared ``resources``, then
the suite's ``[executor]`` table (``[executor.fit]`` / ``[executor.score]`` for one kind), then the command line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.params import coerce
from benchgen.suite.load import cuda_available
from benchgen.suite.model import Suite

# key: (type, what it means) — the [executor] keys of one unit kind
UNIT_KEYS: dict[str, tuple[type, str]] = {
    "partition": (str, "SLURM partition"), "account": (str, "SLURM account"),
    "gpus": (int, "GPUs per job"), "cpus": (int, "CPUs per job"), "mem_gb": (int, "memory per job, GB"),
    "time_min": (int, "time limit per job, minutes"),
}
RUN_KEYS: dict[str, tuple[type, str]] = {
    "array_parallelism": (int, "jobs of one array running at once (local: processes at once)"),
    "run_dir": (str, "the run folder (shards, job logs); on a filesystem every node sees"),
}
KINDS = ("fit", "score")


@dataclass(frozen=True)
class Resources:
    gpus: int = 0
    cpus: int = 1
    mem_gb: int = 4
    time_min: int = 60
    partition: str = ""
    account: str = ""

    def describe(self) -> str:
        where = "".join(f" {k}={v}" for k, v in (("partition", self.partition), ("account", self.account)) if v)
        return f"gpus={self.gpus} cpus={self.cpus} mem={self.mem_gb}G time={self.time_min}m{where}"


@dataclass(frozen=True)
class ExecutorConfig:
    """The run-wide settings and each unit kind's resources for one generator label."""

    fit: dict[str, Resources]  # generator label -> its fit jobs' resources
    score: dict[str, Resources]  # generator label -> its sampling + scoring jobs' resources
    array_parallelism: int = 0  # 0: the scheduler's default (local: one process per CPU core)
    run_dir: str = ""


def _checked(table: dict[str, Any], keys: dict[str, tuple[type, str]], where: str) -> dict[str, Any]:
    out = {}
    for key, value in table.items():
        if key not in keys:
            choices = [*UNIT_KEYS, *RUN_KEYS, *KINDS] if where == "executor" else list(keys)
            raise ConfigError(f"{where}.{key}: unknown executor key", f"choose from {', '.join(choices)}")
        value = coerce(value, keys[key][0], f"{where}.{key}")  # the one TOML value checker
        least = 0 if key in ("gpus", "array_parallelism") else 1
        if isinstance(value, int) and value < least:
            raise ConfigError(f"{where}.{key}: must be ≥ {least}, got {value}")
        out[key] = value
    return out


def declared(kind: str, plugin: str) -> dict[str, Any]:
    """A plugin's declared ``resources`` (only the keys a job can ask for)."""
    cls = registry.load_class(kind, plugin)
    return {k: v for k, v in getattr(cls, "resources", {}).items() if k in UNIT_KEYS}


def _largest(tables: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table in tables:
        for key, value in table.items():
            out[key] = max(out[key], value) if key in out and isinstance(value, int) else value
    return out


def executor_config(suite: Suite, overrides: dict[str, Any] | None = None) -> ExecutorConfig:
    """Resources per unit kind and generator: defaults < plugins < ``[executor]`` < ``[executor.KIND]`` <
    command-line `overrides` (the keys of UNIT_KEYS and RUN_KEYS; None values are not set)."""
    table = dict(suite.document.get("executor", {}))
    kinds = {k: table.pop(k) for k in KINDS if k in table}
    for k, sub in kinds.items():
        if not isinstance(sub, dict):
            raise ConfigError(f"executor.{k}: expected a table like [executor.{k}]")
    run = _checked({k: v for k, v in table.items() if k in RUN_KEYS}, RUN_KEYS, "executor")
    common = _checked({k: v for k, v in table.items() if k not in RUN_KEYS}, UNIT_KEYS, "executor")
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    run.update({k: v for k, v in cli.items() if k in RUN_KEYS})
    cli_unit = _checked({k: v for k, v in cli.items() if k not in RUN_KEYS}, UNIT_KEYS, "--executor option")
    base = Resources(gpus=1 if suite.device == "cuda" or (suite.device == "auto" and cuda_available()) else 0)
    metric_needs = [declared("metrics", m.plugin) for m in suite.metrics.values()]
    fit: dict[str, Resources] = {}
    score: dict[str, Resources] = {}
    for label, spec in suite.generators.items():
        gen = declared("generators", spec.plugin)
        for kind, needs, out in (("fit", [gen], fit), ("score", [gen, *metric_needs], score)):
            kind_table = _checked(kinds.get(kind, {}), UNIT_KEYS, f"executor.{kind}")
            out[label] = replace(base, **{**_largest(needs), **common, **kind_table, **cli_unit})
    return ExecutorConfig(fit, score, run.get("array_parallelism", 0), run.get("run_dir", ""))

