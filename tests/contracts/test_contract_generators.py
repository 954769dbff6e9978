"""Contract every registered generator passes (built with its `tiny_params`, on tiny cohorts)."""

from __future__ import annotations

import json

import pytest
import torch

from benchgen import registry
from benchgen.interfaces import FitContext, Generator
from benchgen.params import parse_params

N = 4


@pytest.fixture(scope="module")
def fitted(generator_name, load_plugin, cohorts, tmp_path_factory):
    """(generator, its samples for seed 0): fitted and sampled once per generator for all checks below."""
    cls, gen = load_plugin("generators", generator_name)
    assert issubclass(cls, Generator)
    ctx = FitContext(workdir=tmp_path_factory.mktemp("work"), seed=0, val=cohorts["val"], quiet=True)
    gen.fit(cohorts["train"], ctx)
    return gen, gen.sample(N, seed=0)


def test_sample_shape_dtype_range_and_seeding(fitted):
    fitted, x = fitted
    assert isinstance(x, torch.Tensor)
    assert tuple(x.shape) == (N, 1, 8, 12, 8) and x.dtype == torch.float32
    assert bool(torch.isfinite(x).all())
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert float(x.std()) > 0  # not a constant volume
    torch.testing.assert_close(fitted.sample(N, seed=0), x, rtol=0, atol=1e-6, msg="same seed, other samples")
    other = fitted.sample(N - 1, seed=1)
    assert tuple(other.shape) == (N - 1, 1, 8, 12, 8)
    assert not torch.allclose(other, x[: N - 1]), "a different seed gave the same samples"


def test_save_then_load_in_a_fresh_instance_samples_the_same(fitted, generator_name, tmp_path, pickle_files):
    fitted, x = fitted
    folder = tmp_path / "checkpoint"
    fitted.save(folder)
    assert pickle_files(folder) == [], "save() wrote pickles; use safetensors / JSON"
    fresh = registry.create("generators", generator_name, fitted.config()["params"])
    fresh.load(folder)
    torch.testing.assert_close(fresh.sample(N, seed=0), x, rtol=0, atol=1e-6)


def test_config_is_json_and_rebuilds_the_params(fitted, generator_name):
    fitted, _ = fitted
    config = json.loads(json.dumps(fitted.config()))
    assert config["plugin"] == generator_name and config["version"]
    assert parse_params(type(fitted.params), config["params"], "config") == fitted.params
    json.dumps(fitted.sampler_info())
