"""The ``finetune`` plugin: it starts from its parent's weights, learns a class its parent never saw, keeps
frozen blocks at the parent's values, records its parent, and refuses a parent of another shape, network or
plugin in one line; suites give it a parent folder or fit a ``pretrain`` parent first."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from benchgen_ddpm.finetune import FROZEN
from benchgen_ddpm.generator import DDPMGenerator

from benchgen import registry
from benchgen.checkpoint import GENERATOR_FILE, checkpoint_sha256
from benchgen.errors import ConfigError
from benchgen.hashing import fingerprint
from benchgen.interfaces import FitContext
from benchgen.params import params_to_dict
from benchgen.suite.load import load_suite
from benchgen.volumes import Cohort
from tests.suites import tiny_suite

from .conftest import tiny
from .test_conditional import _ball, _ball_means

NET = tiny(max_steps=120, batch_size=4, val_every=0, lr=3e-3, prediction_type="v_prediction", zero_terminal_snr=True,
           inference_steps=10, condition_on=["condition"], condition_dropout=0.2, num_threads=1)


def _balls(levels: list[float], condition: str) -> Cohort:
    data = torch.stack([_ball() * v for v in levels])[:, None]
    meta = [{"condition": condition, "age": 60.0, "sex": "F"} for _ in levels]
    return Cohort(data, np.eye(4), [f"{condition}{i}" for i in range(len(levels))], meta)


def _save_parent(gen: DDPMGenerator, folder: Path) -> Path:
    gen.save(folder)
    (folder / GENERATOR_FILE).write_text(json.dumps({"plugin": gen.name, "version": gen.version,
                                                     "params": params_to_dict(gen.params)}))
    return folder


@pytest.fixture(scope="module")
def parent(tmp_path_factory) -> Path:
    """A class-conditional ddpm that has only seen dark balls ('healthy')."""
    gen = registry.create("generators", "ddpm", NET)
    gen.fit(_balls([0.1, 0.15, 0.2, 0.1], "healthy"), FitContext(workdir=tmp_path_factory.mktemp("pw"), quiet=True))
    return _save_parent(gen, tmp_path_factory.mktemp("parent") / "ckpt")


def _finetune(parent: Path, cohort: Cohort, workdir: Path, **params) -> DDPMGenerator:
    gen = registry.create("generators", "finetune", {**NET, "max_steps": 80, **params})
    gen.fit(cohort, FitContext(workdir=workdir, quiet=True, parent=parent))
    return gen


@pytest.fixture(scope="module")
def adapted(parent, tmp_path_factory) -> DDPMGenerator:
    """The parent fine-tuned on dark and bright ('ftd-like') balls, its encoder frozen."""
    both = _balls([0.1, 0.15, 0.9, 0.85], "healthy")
    both.metadata[2:] = [{"condition": "ftd-like", "age": 60.0, "sex": "F"}] * 2
    return _finetune(parent, both, tmp_path_factory.mktemp("fw"), freeze="down")


def test_a_new_class_is_learned_on_top_of_a_one_class_parent(adapted):
    assert adapted.sampler_info()["classes"] == ["healthy", "ftd-like"]  # the parent's first, the null class last
    x = adapted.sample_conditional([{"condition": "healthy"}] * 2 + [{"condition": "ftd-like"}] * 2, seed=0)
    dark, bright = _ball_means(x[:2]), _ball_means(x[2:])
    assert float(dark.max()) + 0.2 < float(bright.min()), (dark.tolist(), bright.tolist())


def test_frozen_blocks_keep_the_parents_weights_and_the_rest_moves(adapted, parent):
    from safetensors.torch import load_file

    before = load_file(str(parent / "weights.safetensors"))
    after = adapted._model.state_dict()
    frozen = [k for k in before if k.startswith(FROZEN["down"])]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    moved = [k for k in before if k.startswith("up_blocks.") and not torch.equal(before[k], after[k])]
    assert moved
    # the new class starts at the null row; the parent's class row and the null row are copied, then trained
    assert after["class_embedding.weight"].shape[0] == before["class_embedding.weight"].shape[0] + 1


def test_the_parent_is_recorded_with_its_sha256_and_config_hash(adapted, parent, tmp_path):
    record = adapted.sampler_info()["parent"]
    meta = json.loads((parent / GENERATOR_FILE).read_text())
    assert record["sha256"] == checkpoint_sha256(parent) and len(record["sha256"]) == 64
    assert record["config_hash"] == fingerprint({k: meta[k] for k in ("plugin", "version", "params")})
    assert record["plugin"] == "ddpm" and record["freeze"] == "down" and record["new_classes"] == ["ftd-like"]
    adapted.save(tmp_path / "ckpt")
    fresh = registry.create("generators", "finetune", adapted.config()["params"])
    fresh.load(tmp_path / "ckpt")  # a fine-tuned checkpoint is self-contained: no parent needed to sample
    assert fresh.sampler_info() == adapted.sampler_info()
    rows = [{"condition": "ftd-like"}]
    assert torch.equal(fresh.sample_conditional(rows, seed=2), adapted.sample_conditional(rows, seed=2))


def test_the_start_matters_a_finetune_is_not_training_from_scratch(parent, tmp_path):
    cohort = _balls([0.1, 0.2], "healthy")
    ft = _finetune(parent, cohort, tmp_path / "a", max_steps=1, lr=1e-6)
    scratch = registry.create("generators", "ddpm", {**NET, "max_steps": 1, "lr": 1e-6})
    scratch.fit(cohort, FitContext(workdir=tmp_path / "b", quiet=True))
    from safetensors.torch import load_file

    start = load_file(str(parent / "weights.safetensors"))

    def distance(gen: DDPMGenerator) -> float:
        return max(float((gen._model.state_dict()[k] - v).abs().max()) for k, v in start.items())

    assert distance(ft) < 1e-4 < 0.01 < distance(scratch)


@pytest.mark.parametrize("change, words", [
    ({"channels": [16, 16], "num_head_channels": [0, 16]},
     "is another network (channels: parent [8, 16], finetune [16, 16])"),
    ({"condition_on": [], "condition_dropout": 0.0},
     "is another network (condition_on: parent ['condition'], finetune []"),
])
def test_a_parent_of_another_network_is_one_config_error(parent, tmp_path, change, words):
    with pytest.raises(ConfigError) as err:
        _finetune(parent, _balls([0.1, 0.2], "healthy"), tmp_path, **change)
    assert words in err.value.message and "\n" not in err.value.message


def test_a_parent_of_another_shape_or_plugin_or_none_is_one_config_error(parent, tmp_path):
    wide = Cohort(torch.zeros(2, 1, 8, 8, 16), np.eye(4), ["a", "b"], [{"condition": "healthy"}] * 2)
    with pytest.raises(ConfigError, match=r"trained on volumes of shape \[8, 8, 8\], the training split's are "
                                          r"\[8, 8, 16\]"):
        _finetune(parent, wide, tmp_path / "w")
    other = tmp_path / "gaussian"
    other.mkdir()
    for name in ("ddpm.json", "weights.safetensors"):
        (other / name).write_bytes((parent / name).read_bytes())
    (other / GENERATOR_FILE).write_text(json.dumps({"plugin": "gaussian", "version": "1", "params": {}}))
    with pytest.raises(ConfigError, match="is a 'gaussian' checkpoint"):
        _finetune(other, _balls([0.1, 0.2], "healthy"), tmp_path / "g")
    gen = registry.create("generators", "finetune", NET)
    with pytest.raises(ConfigError, match="no parent checkpoint"):
        gen.fit(_balls([0.1, 0.2], "healthy"), FitContext(workdir=tmp_path / "n", quiet=True))


# ------------------------------------------------------------------------------------------ suites
def _suite(tmp_path: Path, ft: dict) -> Path:
    """The tiny suite of one `finetune` row, its [generators.ft] table given `ft`'s keys beside the plugin."""
    path = tmp_path / "ft.toml"
    path.write_text(tiny_suite("ft", generators={"ft": {"plugin": "finetune", **ft}}, evaluation={"n_samples": 2},
                               dataset={"shape": [8, 8, 8], "params": {"voxel_mm": 8.0, "n_subjects": 8}}))
    return path


def test_a_parent_folder_in_a_suite_supplies_defaults_and_its_identity(parent, tmp_path):
    suite = load_suite(_suite(tmp_path, {"parent": str(parent), "params": {"max_steps": 7, "freeze": "down"}}),
                       profile="default")
    spec = suite.generators["ft"]
    assert list(spec.params.channels) == [8, 16] and spec.params.max_steps == 7 and spec.params.freeze == "down"
    assert spec.config()["parent"] == {"checkpoint": {"sha256": checkpoint_sha256(parent), "config_hash": fingerprint(
        {k: json.loads((parent / GENERATOR_FILE).read_text())[k] for k in ("plugin", "version", "params")})}}


@pytest.mark.parametrize("ft_table, words", [
    ({"parent": "/nowhere/ckpt"}, "generators.ft.parent: /nowhere/ckpt is not a checkpoint folder"),
    ({}, "needs exactly one of parent"),
    ({"parent": "x", "pretrain": {}}, "(it has both)"),
    ({"pretrain": {"plugin": "gaussian"}}, "pretrain.plugin: 'gaussian' cannot be a parent here"),
    ({"pretrain": {"dataset": {"shape": [8, 8, 16]}}}, "the parent is fitted at the suite's shape"),
    ({"pretrain": {"dataset": {"colour": 1}}}, "colour"),
    ({"pretrain": {"params": {"chanels": [8]}}}, "generators.ft.pretrain.params"),
], ids=["no-folder", "neither", "both", "gaussian-parent", "other-shape", "unknown-dataset-key", "unknown-param"])
def test_bad_parents_in_a_suite_are_one_config_error(tmp_path, ft_table, words):
    with pytest.raises(ConfigError) as err:
        load_suite(_suite(tmp_path, ft_table), profile="default")
    assert words in err.value.message and "\n" not in err.value.message


def test_a_parent_on_a_generator_that_trains_from_scratch_is_refused(tmp_path):
    path = _suite(tmp_path, {})
    path.write_text(path.read_text().replace('plugin = "finetune"', 'plugin = "gaussian"\nparent = "x"'))
    with pytest.raises(ConfigError, match="generators.ft.parent: generator 'gaussian' trains from scratch"):
        load_suite(path, profile="default")


def test_a_pretrain_parent_is_fitted_first_on_its_own_cohort_and_cached(tmp_path, monkeypatch):
    from benchgen import paths
    from benchgen.results.store import ResultStore
    from benchgen.runner import run_suite

    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    net = {k: NET[k] for k in ("channels", "attention_levels", "num_head_channels", "num_res_blocks",
                               "norm_num_groups", "sampler", "inference_steps", "batch_size")}
    pretrain = {"params": {"max_steps": 3}, "pretrain": {"params": {**net, "max_steps": 4, "val_every": 0},
                                                         "dataset": {"params": {"seed": 5, "n_subjects": 6}}}}
    suite = load_suite(_suite(tmp_path, pretrain), profile="default")
    spec = suite.generators["ft"]
    assert spec.params.max_steps == 3 and list(spec.params.channels) == [8, 16]  # own, then the parent's
    assert spec.config()["parent"]["pretrain"]["dataset"]["source"]["params"]["seed"] == 5
    run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    store = ResultStore(tmp_path / "r.sqlite")
    ckpts = {json.loads(f.read_text())["label"]: f.parent
             for f in paths.cache_dir("checkpoints").glob(f"*/{GENERATOR_FILE}")}
    assert set(ckpts) == {"ft", "ft.pretrain"}
    [record] = store.records(suite="ft")
    assert record["status"] == "ok"
    assert record["sampler"]["parent"]["sha256"] == checkpoint_sha256(ckpts["ft.pretrain"])
    assert record["generator_config"]["parent"]["pretrain"]["plugin"] == "ddpm"
    # a new fit of the child (force) loads the cached parent rather than training it again
    mtime = (ckpts["ft.pretrain"] / "weights.safetensors").stat().st_mtime_ns
    from benchgen.data.load import load_data
    from benchgen.fit.fit import fit_or_load
    from benchgen.fit.parent import resolve_parent

    fit_or_load(spec, load_data(suite), suite, "cpu", force=True, parent=resolve_parent(spec, suite, "cpu"))
    assert (ckpts["ft.pretrain"] / "weights.safetensors").stat().st_mtime_ns == mtime
    with pytest.raises(ConfigError, match="pretrain parent must be fitted first"):  # the fit gets a folder
        fit_or_load(spec, load_data(suite), suite, "cpu", force=True)
