"""Sizes no machine holds are refused by `validate`, naming the key, before any memory is spent (checked under a
memory limit); NaN splits, label collisions and networks MONAI cannot build are validate lines too; jobs are
capped at the CPU count with a warning; a MemoryError that still happens names its stage."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from tests.suites import tiny_suite

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1536 * 2**20

SUITE = tiny_suite("sizes", dataset={"params": {"n_subjects": 8, "voxel_mm": 8.0}},
                   preprocessing={"steps": ["scale-01"]}, evaluation={"bootstrap": 10})


HUGE = {
    "evaluation.n_samples=1000000000": "evaluation.n_samples",
    "dataset.params.n_subjects=1000000000": "dataset.params.n_subjects",
    "evaluation.bootstrap=1000000000": "evaluation.bootstrap",
    "dataset.shape=[4000, 4000, 4000]": "dataset.shape",
}

CHILD = """
import json, sys
from benchgen.suite.load import load_suite
from benchgen.errors import ConfigError
out = {}
for item in json.loads(sys.argv[2]):
    try:
        load_suite(sys.argv[1], "auto", [item])
        out[item] = None
    except ConfigError as exc:
        out[item] = exc.message
print(json.dumps(out))
"""


@pytest.fixture
def suite_path(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    path = tmp_path / "sizes.toml"
    path.write_text(SUITE)
    return path


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def test_sizes_no_machine_holds_are_refused_naming_the_key_under_a_memory_limit(suite_path):
    out = subprocess.run([sys.executable, "-c", CHILD, str(suite_path), json.dumps(list(HUGE))], capture_output=True,
                         text=True, timeout=120, preexec_fn=limited, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    messages = json.loads(out.stdout)
    for item, key in HUGE.items():
        assert messages[item] is not None, f"{item} passed validation"
        assert key in messages[item] and "\n" not in messages[item], messages[item]


def test_validate_prints_one_line_for_a_huge_sample_count(suite_path):
    cli = [sys.executable, "-c", "from benchgen.cli import main; main()"]
    out = subprocess.run([*cli, "validate", str(suite_path), "--set", "evaluation.n_samples=1000000000"],
                         capture_output=True, text=True, timeout=120, preexec_fn=limited,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "evaluation.n_samples" in lines[0] and "GiB" in lines[0], out.stderr


def test_reasonable_sizes_still_pass(suite_path):
    res = CliRunner().invoke(load_commands(), ["validate", str(suite_path)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("split", ["{ train = nan, val = 0.5, test = 0.5 }",
                                   "{ train = 0.5, val = nan, test = 0.5 }",
                                   "{ train = inf, val = 0.0, test = 0.5 }"])
def test_nan_splits_are_refused(suite_path, split):
    res = CliRunner().invoke(load_commands(), ["validate", str(suite_path), "--set", f"dataset.split={split}"])
    assert res.exit_code == 2 and "dataset.split" in res.output, res.output


def test_jobs_are_capped_at_the_cpu_count_with_a_warning(suite_path):
    from benchgen.suite.load import load_suite

    res = CliRunner().invoke(load_commands(), ["validate", str(suite_path), "--set", "dataset.jobs=100000"])
    assert res.exit_code == 0, res.output
    assert "warning" in res.output and "dataset.jobs" in res.output
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with pytest.warns(UserWarning):
        assert load_suite(suite_path, "auto", ["dataset.jobs=100001"]).jobs == cpus


def test_a_metric_label_cannot_take_another_metrics_column(suite_path):
    text = suite_path.read_text() + '[evaluation.metrics.prdc]\nparams = { k = 1 }\n' \
                                    '[evaluation.metrics."prdc.recall"]\nplugin = "mmd"\n'
    suite_path.write_text(text)
    res = CliRunner().invoke(load_commands(), ["validate", str(suite_path)])
    assert res.exit_code == 2 and "prdc.recall" in res.output and "column" in res.output, res.output


def test_a_network_monai_cannot_build_is_a_validate_line_naming_the_key(suite_path):
    text = suite_path.read_text().replace("[generators.gaussian]", """[generators.gaussian]
[generators.tiny]
plugin = "ddpm"
[generators.tiny.params]
channels = [8, 16]
attention_levels = [true, false]
num_head_channels = [8, 0]
norm_num_groups = 8
""")
    suite_path.write_text(text)
    res = CliRunner().invoke(load_commands(), ["validate", str(suite_path)])
    assert res.exit_code == 2, res.output
    assert "generators.tiny" in res.output and "attention_levels" in res.output, res.output


def test_a_memory_error_names_the_stage(suite_path, monkeypatch):
    import benchgen.runner as runner

    def explode(*args, **kwargs):
        raise MemoryError()  # what a list that cannot grow raises: no message at all

    monkeypatch.setattr(runner, "list_dataset", explode)
    res = CliRunner().invoke(load_commands(), ["run", str(suite_path), "-q"])
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "out of memory" in lines[0], res.output
    assert "runner.run_suite" in lines[0] and "n_samples 4, shape 8×12×8, 8 subjects" in lines[0], res.output
