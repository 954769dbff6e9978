"""`benchgen validate` catches what `run` would fail on, before any work: exit 2 and one line naming the
suite file and the key (core checks, and the plugins' ``check_suite`` hooks: ddpm, ms-ssim, prdc)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from benchgen.cli import load_commands
from benchgen.errors import ConfigError
from benchgen.interfaces import Plugin, SuiteCheck
from tests.suites import TINY_UNET, tiny_suite

SUITE = tiny_suite("checks", suite={"primary_metric": "ms-ssim"}, preprocessing=None,
                   generators={"gaussian": {}, "ddpm": {"params": {**TINY_UNET, "max_steps": 3}}},
                   evaluation={"n_samples": 6, "seeds": [0, 1], "bootstrap": None},
                   metrics={"ms-ssim": {"params": {"kernel_size": 3, "scales": 2}}, "prdc": {"params": {"k": 3}}})


MS_SSIM = "evaluation.metrics.ms-ssim"
CASES = {
    "negative evaluation seed": (["evaluation.seeds=[0, -1]"], "evaluation.seeds"),
    "negative fit seed": (["generators.gaussian.seed=-3"], "generators.gaussian.seed"),
    "negative split seed": (["dataset.split_seed=-1"], "dataset.split_seed"),
    "jobs = 0": (["dataset.jobs=0"], "dataset.jobs"),
    "ddpm shape": (["dataset.shape=[9, 12, 8]"], "dataset.shape"),
    "ddpm levels": (['generators.ddpm.params.channels=[8, 16, 32, 64]',
                     "generators.ddpm.params.attention_levels=[false, false, false, true]",
                     "generators.ddpm.params.num_head_channels=[0, 0, 0, 16]"], "generators.ddpm"),
    "ms-ssim kernel": (["evaluation.metrics.ms-ssim.params.kernel_size=7"], f"{MS_SSIM}.params.kernel_size"),
    "ms-ssim scales": (["evaluation.metrics.ms-ssim.params.scales=4"], f"{MS_SSIM}.params.kernel_size"),
    "prdc k > n_samples": (["evaluation.metrics.prdc.params.k=7"], "evaluation.metrics.prdc.params.k"),
    "prdc k = n_samples, shrunk": (["evaluation.n_samples=3"], "evaluation.metrics.prdc.params.k"),
    "cuda without CUDA": (['evaluation.device="cuda"'], "evaluation.device"),
    "ddpm cuda without CUDA": (['generators.ddpm.params.device="cuda"'], "generators.ddpm.params.device"),
    "ddpm fp16 without CUDA": (['generators.ddpm.params.mixed_precision="fp16"'],
                               "generators.ddpm.params.mixed_precision"),
    "ddpm unknown condition_on": (['generators.ddpm.params.condition_on=["diagnosis"]'],
                                  "generators.ddpm.params.condition_on[0]"),
    "ddpm guidance untrained": (['generators.ddpm.params.condition_on=["condition"]',
                                 "generators.ddpm.params.guidance_scale=2.0"], "guidance_scale"),
}


@pytest.fixture
def no_cuda(monkeypatch):
    import torch

    import benchgen.suite.load

    monkeypatch.setattr(benchgen.suite.load, "cuda_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def suite(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    path = tmp_path / "checks.toml"
    path.write_text(SUITE)
    return path


def validate(path, *sets: str):
    args = ["validate", str(path), "--profile", "default"]
    for s in sets:
        args += ["--set", s]
    return CliRunner().invoke(load_commands(), args)


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


def test_the_base_suite_is_valid(suite, no_cuda):
    res = validate(suite)
    assert res.exit_code == 0, res.output
    assert ": ok · checks v1" in res.output


@pytest.mark.parametrize("case", list(CASES))
def test_validate_refuses_what_run_would_fail_on(suite, no_cuda, case):
    sets, key = CASES[case]
    res = validate(suite, *sets)
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert f"error: {suite}: " in line and key in line, line


@pytest.mark.parametrize("how", ["a file in the way", "read-only folder"])
def test_validate_refuses_an_unwritable_home(suite, tmp_path, monkeypatch, how):
    if how == "a file in the way":
        (tmp_path / "blocker").write_text("x")
        home = tmp_path / "blocker" / "home"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "ro").mkdir(mode=0o555)
        home = tmp_path / "ro" / "home"
    monkeypatch.setenv("BENCHGEN_HOME", str(home))
    res = validate(suite)
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert f"{suite}: BENCHGEN_HOME {home}" in line
    res = CliRunner().invoke(load_commands(), ["run", str(suite), "--profile", "default",
                                               "--results", str(tmp_path / "r.sqlite")])
    assert res.exit_code == 2 and "BENCHGEN_HOME" in one_error_line(res.output)
    assert not (tmp_path / "r.sqlite").exists()  # refused before the store was created


def test_check_suite_is_a_no_op_by_default_and_gets_the_suite():
    ctx = SuiteCheck(shape=(8, 12, 8), n_samples=6, device="auto", where="generators.x")
    assert Plugin().check_suite(ctx) is None
    from benchgen_metrics.prdc import PRDC

    with pytest.raises(ConfigError, match=r"generators.x.params.k: k = 5 .* the real set has 5"):
        PRDC(PRDC.Params(k=5)).check_suite(SuiteCheck((8, 12, 8), 10, "auto", "generators.x", n_real=5))
