"""Stable cache keys: the sample cache is keyed by the checkpoint and the generator's config, not by
``sampler_info()`` (a scan pool's grows `with_replacement` after its first `sample`), so a resumed run
reuses the samples its first run cached instead of caching the same seed under another name."""

from __future__ import annotations

import sqlite3

import pytest

from benchgen import paths
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.suites import tiny_suite

SUITE = tiny_suite("keys", generators=["holdout", "memorizer"], evaluation={"n_samples": 8, "seeds": [0, 1, 2]})



@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    return tmp_path / "home"


def sample_files() -> list[str]:
    return sorted(p.name for p in paths.cache_dir("samples").glob("*.safetensors"))


def test_a_resumed_run_reuses_the_cached_samples(tmp_path, home):
    path = tmp_path / "keys.toml"
    path.write_text(SUITE)
    suite = load_suite(path, "default")
    db = tmp_path / "r.sqlite"
    first = run_suite(suite, db, quiet=True, save_samples=False)
    assert first.ok and first.computed == 6
    cached = sample_files()
    assert len(cached) == 6  # two generators × three seeds
    con = sqlite3.connect(db)
    con.execute("DELETE FROM results WHERE seed > 0")  # as if the first run had been killed after seed 0
    con.commit()
    con.close()
    resumed = run_suite(suite, db, quiet=True, save_samples=False)
    assert resumed.ok and (resumed.computed, resumed.cached) == (4, 2)
    assert sample_files() == cached  # the same files, none cached a second time under another key


def test_a_refit_drops_the_samples_of_the_checkpoint_it_replaces(tmp_path, home):
    from benchgen.data.load import load_data
    from benchgen.fit.fit import fit_or_load
    from benchgen.sample.cache import sample_cached

    path = tmp_path / "keys.toml"
    path.write_text(SUITE)
    suite = load_suite(path, "default")
    data = load_data(suite)
    spec = suite.generators["memorizer"]
    gen, ckpt = fit_or_load(spec, data, suite, "cpu")
    sample_cached(gen, ckpt, 8, 0, suite.shape, "memorizer", data.splits.test.affine)
    assert len(sample_files()) == 1
    fit_or_load(spec, data, suite, "cpu")  # reused: its samples stay
    assert len(sample_files()) == 1
    fit_or_load(spec, data, suite, "cpu", force=True)  # `benchgen train --force`: new weights, old samples go
    assert sample_files() == []
