"""Bad configurations fail with one clear ConfigError before any work starts."""

from pathlib import Path

import pytest
import torch
from benchgen_ddpm.testing import mni_cohort

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.interfaces import FitContext

from .conftest import tiny


def make(**changes):
    return registry.create("generators", "ddpm", tiny(**changes))


@pytest.mark.parametrize("changes, words", [
    ({"channels": [8, 12], "norm_num_groups": 8}, "not divisible by norm_num_groups"),
    ({"num_head_channels": [0, 6]}, "num_head_channels[1]=6"),
    ({"channels": [8, 16, 32], "attention_levels": [False, True]}, "same length"),
    ({"sampler": "ddpm", "inference_steps": 50}, "use sampler = \"ddim\""),
    ({"inference_steps": 2000}, "inference_steps must be in"),
    ({"ema_decay": 1.5}, "ema_decay"),
    ({"mixed_precision": "fp8"}, "not allowed"),
    ({"chanels": [8, 16]}, "did you mean 'channels'"),
])
def test_bad_params_are_one_line_config_errors(changes, words):
    with pytest.raises(ConfigError) as exc:
        make(**changes)
    assert words in str(exc.value)
    assert "\n" not in exc.value.message


def test_shape_not_divisible_fails_before_training(tmp_path: Path):
    gen = make(channels=[8, 16, 16], attention_levels=[False, False, True], num_head_channels=[0, 0, 16])
    bad = mni_cohort(2, (8, 12, 10), seed=0)  # 10 is not divisible by 2^(3-1)
    with pytest.raises(ConfigError, match=r"\(8, 12, 10\).*divisible by 2\^2 = 4"):
        gen.fit(bad, FitContext(workdir=tmp_path / "w"))
    assert not (tmp_path / "w").exists()  # nothing was started


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_absent(tmp_path: Path, tiny_train):
    with pytest.raises(ConfigError, match="no CUDA device"):
        make(device="cuda").fit(tiny_train, FitContext(workdir=tmp_path / "w"))
    with pytest.raises(ConfigError, match="fp16"):
        make(mixed_precision="fp16").fit(tiny_train, FitContext(workdir=tmp_path / "w"))
    assert not (tmp_path / "w").exists()


def test_missing_tracker_is_a_config_error(tmp_path: Path, tiny_train):
    with pytest.raises(ConfigError, match="unknown tracker"):
        make(log_with=["nope"]).fit(tiny_train, FitContext(workdir=tmp_path / "w"))


def test_checkpoint_from_another_config(tmp_path: Path, tiny_train):
    gen = make(max_steps=1, val_every=0)
    gen.fit(tiny_train, FitContext(workdir=tmp_path / "w"))
    gen.save(tmp_path / "ck")
    other = make(channels=[16, 16], num_head_channels=[0, 16])
    with pytest.raises(ConfigError, match=r"another config \(channels: checkpoint \[8, 16\]"):
        other.load(tmp_path / "ck")
    # sampling settings may differ: a checkpoint is loadable with another sampler
    make(sampler="ddim", inference_steps=2, eta=0.5).load(tmp_path / "ck")
    with pytest.raises(ConfigError, match="not a ddpm checkpoint"):
        make().load(tmp_path / "nowhere")
    # a training state left in the workdir by another config is refused, not silently reused
    with pytest.raises(ConfigError, match="training state from another config.*lr"):
        make(max_steps=1, val_every=0, lr=5e-4).fit(tiny_train, FitContext(workdir=tmp_path / "w"))


def test_checkpoint_that_predates_a_model_field_loads_with_its_default(tmp_path: Path, tiny_train):
    import json

    gen = make(max_steps=1, val_every=0)
    gen.fit(tiny_train, FitContext(workdir=tmp_path / "w"))
    gen.save(tmp_path / "ck")
    meta_file = tmp_path / "ck" / "ddpm.json"
    meta = json.loads(meta_file.read_text())
    del meta["model"]["background_gap"]  # as written before the field existed
    meta_file.write_text(json.dumps(meta))
    make().load(tmp_path / "ck")  # the default (0, the plain 2x - 1 map) is what it was trained with
    with pytest.raises(ConfigError, match=r"another config \(background_gap: checkpoint 0.0 vs config 0.3"):
        make(background_gap=0.3).load(tmp_path / "ck")


@pytest.mark.parametrize("change, words", [({"shape": [2000, 2000, 2000]}, "shape"),
                                           ({"affine": [[float("nan")] * 4] * 4}, "affine")])
def test_a_ddpm_json_with_an_impossible_geometry_is_named(tmp_path: Path, tiny_train, change, words):
    """A 2000³ shape would allocate tens of GB at the first sample; a NaN affine breaks every NIfTI written."""
    import json

    from benchgen.errors import BenchgenError

    gen = make(max_steps=1, val_every=0)
    gen.fit(tiny_train, FitContext(workdir=tmp_path / "w"))
    gen.save(tmp_path / "ck")
    meta_file = tmp_path / "ck" / "ddpm.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), **change}))
    with pytest.raises(BenchgenError, match=words) as info:
        make().load(tmp_path / "ck")
    assert str(meta_file) in str(info.value)


def test_the_network_is_built_at_validate(monkeypatch):
    """MONAI's middle block always attends (a ZeroDivisionError in the fit when the last level does not), and
    any other construction error of the network is a validate line naming the key too."""
    import benchgen_ddpm.generator as generator

    from benchgen.interfaces import SuiteCheck

    check = SuiteCheck((8, 12, 8), 4, "cpu", "generators.ddpm")
    with pytest.raises(ConfigError, match=r"generators\.ddpm\.params\.attention_levels"):
        make(attention_levels=[True, False], num_head_channels=[8, 0]).check_suite(check)
    make().check_suite(check)
    built = []
    real = generator.build_unet
    monkeypatch.setattr(generator, "build_unet", lambda *a, **k: built.append(real(*a, **k)) or 1 / 0)
    with pytest.raises(ConfigError, match=r"generators\.ddpm\.params: MONAI cannot build .*ZeroDivisionError"):
        make().check_suite(check)
    assert built[0].conv_in.conv.weight.is_meta  # no memory spent on it
