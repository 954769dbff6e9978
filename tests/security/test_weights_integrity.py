"""Weights that changed are never a silent new score: every record carries the sha256 of the weights it was sampled
from, a checkpoint whose weights no longer match its generator.json is one line naming the folder, an older
checkpoint without a checksum gets one at first load, and a checkpoint's JSON that declares an impossible shape
or a NaN affine is refused naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchgen.checkpoint import GENERATOR_FILE, checkpoint_sha256
from benchgen.fit.saving import load_checkpoint
from benchgen.errors import BenchgenError, DataError
from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite


def fitted(home: Path) -> dict[str, Path]:
    """The checkpoint folder of each generator label of the toy suite."""
    out = {}
    for folder in (home / "cache" / "checkpoints").iterdir():
        if folder.is_dir() and not folder.name.endswith(".work") and (folder / GENERATOR_FILE).is_file():
            out[json.loads((folder / GENERATOR_FILE).read_text())["label"]] = folder
    return out


@pytest.fixture
def ran(fake_registry, suite_file, home, tmp_path):
    suite = load_suite(suite_file(), profile="default")
    db = tmp_path / "r.sqlite"
    summary = run_suite(suite, db, quiet=True)
    assert summary.errors == []
    return suite, db


def test_records_and_generator_json_carry_the_weights_sha256(ran, home):
    suite, db = ran
    folders = fitted(home)
    for folder in folders.values():
        meta = json.loads((folder / GENERATOR_FILE).read_text())
        assert meta["weights_sha256"] == checkpoint_sha256(folder)
    for rec in ResultStore(db).records():
        assert rec["extra"]["weights_sha256"] == checkpoint_sha256(folders[rec["generator"]])


def test_changed_weights_are_one_line_naming_the_folder_never_a_new_score(ran, home, tmp_path):
    suite, db = ran
    folder = fitted(home)["good"]
    weights = folder / "mean.json"
    values = json.loads(weights.read_text())
    values[0] += 0.25
    weights.write_text(json.dumps(values))
    with pytest.raises(DataError, match="weights") as info:
        load_checkpoint(folder)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)
    more = load_suite(suite.path, profile="default", overrides=["evaluation.seeds=[0, 1, 2]"])
    summary = run_suite(more, db, quiet=True)
    bad = [e for e in summary.errors if e.cell.startswith("good/")]
    assert bad and all(str(folder) in e.message for e in bad)
    assert not [r for r in ResultStore(db).records() if r["generator"] == "good" and r["seed"] == 2
                and r["status"] == "ok"]


def test_an_older_checkpoint_gets_its_checksum_at_first_load(ran, home):
    folder = fitted(home)["good"]
    meta_file = folder / GENERATOR_FILE
    meta = json.loads(meta_file.read_text())
    del meta["weights_sha256"]
    meta_file.write_text(json.dumps(meta))
    load_checkpoint(folder)
    assert json.loads(meta_file.read_text())["weights_sha256"] == checkpoint_sha256(folder)


@pytest.mark.parametrize("change", [{"shape": [2000, 2000, 2000]}, {"shape": [8, -1, 8]},
                                    {"affine": [[float("nan")] * 4] * 4}, {"affine": [[1, 0], [0, 1]]}],
                         ids=["huge", "negative", "nan-affine", "2x2-affine"])
def test_a_checkpoint_json_with_an_impossible_geometry_is_named(ran, home, change):
    folder = fitted(home)["good"]
    meta_file = folder / GENERATOR_FILE
    meta = {**json.loads(meta_file.read_text()), **change}
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(BenchgenError) as info:
        load_checkpoint(folder)
    key = next(iter(change))
    assert str(meta_file) in str(info.value) and key in str(info.value), str(info.value)
