"""The dry-run plan, resources from the suite and the command line, shards that must not be merged, and the
one-line errors of bad cluster input. No worker process is started here."""

import json
import stat

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.cluster.fs import network_store_warning
from benchgen.cluster.resources import executor_config
from benchgen.cluster.shards import RunIdentity, ShardStore, merge_shards, shard_dir
from benchgen.cluster.submit import why_failed
from benchgen.errors import ConfigError
from benchgen.results.store import ResultStore
from benchgen.suite.load import load_suite
from tests.core.conftest import SUITE
from tests.core.test_store import make_record

runner = CliRunner()
RUN = RunIdentity("s", "1", "p")  # the identity of make_record's records
EXECUTOR = "\n[executor]\ncpus = 2\ntime_min = 30\n[executor.fit]\ngpus = 1\nmem_gb = 32\n"


def invoke(*args):
    return runner.invoke(load_commands(), [str(a) for a in args])


def one_line_error(res, expect, hint=""):
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip() and not line.startswith("suite ")]
    assert lines[0].startswith("error:") and expect in lines[0] and "Traceback" not in res.output, res.output
    assert hint in "\n".join(lines[1:2])


def test_dry_run_prints_units_resources_and_dependencies(cluster_env, suite_file):
    db = cluster_env / "r.sqlite"
    res = invoke("run", suite_file(SUITE + EXECUTOR), "-p", "default", "--results", db, "--dry-run",
                 "--executor", "local", "--mem-gb", "16")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "6 units · 4 cells to compute, 0 cached" in out
    assert "fit-good          fit       gpus=1 cpus=2 mem=16G time=30m" in out  # the command line wins
    assert "score-bad-seed1   1 cells   gpus=0 cpus=2 mem=16G time=30m after fit-bad" in out
    assert "nothing submitted (--dry-run)" in out
    assert not db.exists() and not (cluster_env / "home" / "runs").exists()  # nothing written


def test_resources_defaults_plugin_suite_and_cli(cluster_env, suite_file, monkeypatch):
    from tests.core import fakes

    monkeypatch.setattr(fakes.MeanDiff, "resources", {"mem_gb": 12, "cpus": 3}, raising=False)
    suite = load_suite(suite_file(SUITE + "\n[executor]\npartition = \"debug\"\n"), profile="default")
    cfg = executor_config(suite, {"time_min": 5, "account": None})
    fit, score = cfg.fit["good"], cfg.score["good"]
    assert (fit.cpus, fit.mem_gb, fit.partition, fit.time_min) == (1, 4, "debug", 5)  # metrics do not fit
    assert (score.cpus, score.mem_gb, score.partition, score.time_min) == (3, 12, "debug", 5)


@pytest.mark.parametrize("table,expect,hint", [
    ("[executor]\ngpu = 1", "executor.gpu: unknown executor key",
     "choose from partition, account, gpus, cpus, mem_gb, time_min, array_parallelism, run_dir, fit, score"),
    ("[executor.fit]\nmem = 3", "executor.fit.mem: unknown executor key", "choose from partition"),
    ("[executor]\ncpus = 0", "executor.cpus: must be ≥ 1", ""),
    ("[executor]\ntime_min = \"1h\"", "executor.time_min: expected an integer", ""),
])
def test_bad_executor_table_is_one_line(cluster_env, suite_file, table, expect, hint):
    res = invoke("run", suite_file(SUITE + "\n" + table + "\n"), "-p", "default", "--results",
                 cluster_env / "r.sqlite", "--executor", "local", "--dry-run")
    one_line_error(res, expect, hint)


def fake_tool(folder, name, text):
    path = folder / name
    path.write_text("#!/bin/sh\n" + text + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_no_sbatch_unknown_executor_and_unknown_partition(cluster_env, suite_file, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    suite, db = suite_file(), cluster_env / "r.sqlite"
    one_line_error(invoke("run", suite, "-p", "default", "--results", db, "--executor", "slurm"),
                   "--executor slurm: no sbatch on PATH")
    plan = invoke("run", suite, "-p", "default", "--results", db, "--executor", "slurm", "--dry-run")
    assert plan.exit_code == 0 and "nothing submitted (--dry-run)" in plan.output, plan.output  # a laptop's plan
    assert "units" in plan.output and "cells to compute" in plan.output
    one_line_error(invoke("run", suite, "-p", "default", "--results", db, "--executor", "k8s"),
                   "--executor k8s: unknown executor", "choose inprocess, local, slurm")
    fake_tool(bin_dir, "sbatch", "exit 1")
    fake_tool(bin_dir, "sinfo", "echo 'debug*'; echo long")
    one_line_error(invoke("run", suite, "-p", "default", "--results", db, "--executor", "slurm", "--partition", "gpu"),
                   "executor.partition: 'gpu' is no partition of this cluster", "choose one of debug, long")
    assert not db.exists()


def test_store_on_a_network_filesystem_warns(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nfiler:/home {tmp_path / 'nfs'} nfs4 rw 0 0\n")
    assert "on a nfs4 filesystem" in network_store_warning(tmp_path / "nfs" / "r.sqlite", str(mounts))
    assert network_store_warning(tmp_path / "local" / "r.sqlite", str(mounts)) is None


def test_merge_is_idempotent_and_ignores_foreign_or_broken_shards(tmp_path):
    run_dir = tmp_path / "run"
    ok = ShardStore(shard_dir(run_dir) / "score-g-seed0.a.jsonl", {"suite": "s", "suite_version": "1",
                    "profile": "p", "unit": "score-g-seed0"}, ["k1", "k2"])
    ok.put(make_record("k1"))
    ok.finish({"computed": 1})
    twin = ShardStore(shard_dir(run_dir) / "score-g-seed0.b.jsonl", {"suite": "s", "suite_version": "1",
                      "profile": "p", "unit": "score-g-seed0"}, ["k1", "k2"])  # a duplicated attempt
    twin.put(make_record("k1", value=0.75))
    twin.put(make_record("k2", status="error", value=None))
    other = ShardStore(shard_dir(run_dir) / "score-g-seed1.c.jsonl", {"suite": "s", "suite_version": "2",
                       "profile": "p", "unit": "score-g-seed1"}, ["k3"])
    other.put(make_record("k3", suite_version="2"))
    (shard_dir(run_dir) / "score-g-seed1.d.jsonl").write_text('{"format": "benchgen-shard/1", "suite": "s", "suite')
    store = ResultStore(tmp_path / "r.sqlite")
    first = merge_shards(run_dir, store, RUN)
    assert (first.added, first.already) == (2, 1)  # k1 once (the first attempt's), k2 as an error
    assert len(first.problems) == 2
    assert any("a shard of s v2 (p), not of this run's s v1 (p); ignored" in p for p in first.problems)
    assert any("unreadable shard" in p and "its unit runs again" in p for p in first.problems)
    assert first.complete_units == {"score-g-seed0"}  # the broken shard's unit is not done: it is re-queued
    again = merge_shards(run_dir, store, RUN)
    assert (again.added, again.already) == (0, 3)
    recs = {r["cell_key"]: r for r in store.records()}
    assert set(recs) == {"k1", "k2"} and recs["k1"]["value"] == 0.5
    # a stored error gives way to a later finished record
    assert store.merge(make_record("k2")) and recs["k2"]["status"] == "error"
    assert not store.merge(make_record("k2", status="error", created_at="2027-01-01T00:00:00"))
    store.close()


def test_shard_store_marks_only_its_unit_as_work(tmp_path):
    shard = ShardStore(tmp_path / "u.jsonl", {"suite": "s"}, ["a", "b"])
    assert shard.done_keys(["a", "b", "c"]) == {"c"}
    shard.put(make_record("a"))
    assert shard.done_keys(["a", "b", "c"]) == {"a", "c"}
    head = json.loads((tmp_path / "u.jsonl").read_text().splitlines()[0])
    assert head["complete"] is False


def test_scheduler_kills_and_worker_errors_are_one_line():
    assert why_failed("41_3", "TIMEOUT", None) == (
        "job 41_3 killed by the scheduler (TIMEOUT); the cells it finished are kept, run again to resubmit the rest")
    assert "by the scheduler (OUT_OF_MEMORY)" in why_failed("41_3", "OUT_OF_MEMORY", None)
    assert "by the scheduler (CANCELLED)" in why_failed("41_3", "CANCELLED by 0", None)
    assert "job 7 killed (INTERRUPTED)" in why_failed("7", "INTERRUPTED", None, "local")
    assert "job 41_3 left the queue without a result (cancelled?)" in why_failed("41_3", "", None)
    assert "job 41_3 ended without a result (FAILED)" in why_failed("41_3", "FAILED", None)
    err = ConfigError("score-g-seed0: the dataset changed since the run was planned")
    assert why_failed("41_3", "FAILED", RuntimeError(f"Traceback...\n  File x\n{err}")) == (
        "job 41_3: score-g-seed0: the dataset changed since the run was planned")
