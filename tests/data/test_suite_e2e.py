"""The documented walkthrough, tiny: phantom exported as NIfTI -> `benchgen preprocess --chain paper`
-> a suite whose [dataset] is the manifest written by preprocess -> the runner's cohort loader."""

import numpy as np
import pytest
from typer.testing import CliRunner

import benchgen.cli.data  # noqa: F401
import benchgen.cli.preprocess  # noqa: F401
from benchgen.cli.app import app


def test_phantom_export_preprocess_suite(tmp_path, monkeypatch, tiny_suite_file):
    runner_mod = pytest.importorskip("benchgen.runner")
    suite_mod = pytest.importorskip("benchgen.suite.load")
    monkeypatch.chdir(tmp_path)
    cli = CliRunner()
    r = cli.invoke(app, ["data", "export", "phantom", "raw", "--n", "4", "--param", "voxel_mm=4.0",
                         "--param", "pose_deg=5", "-q"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["preprocess", "raw", "prep", "--chain", "paper", "--param", "paper.voxel_mm=4.0",
                         "--param", "paper.denoise=false", "--param", "paper.shape=[42, 64, 42]", "-q"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "prep").glob("sub-*/anat/*_T1w.nii.gz"))) == 4
    for source, params in [("manifest", {"path": "prep/manifest.csv"}), ("bids", {"root": "prep"}),
                           ("nifti-folder", {"path": "prep", "subject_regex": "^(sub-[^_]+)"})]:
        path = tiny_suite_file("my_t1", f"{source}.toml", generators=["holdout"], metrics=["mmd"],
                               dataset={"source": source, "shape": [16, 24, 16], "split_seed": 0, "params": params},
                               evaluation={"n_samples": 2, "bootstrap": None})
        suite = suite_mod.load_suite(path, profile="auto")
        data = runner_mod.load_data(suite, use_cache=False)
        cohorts = [data.splits.train, data.splits.val, data.splits.test]
        ids = sorted(s for c in cohorts for s in c.subject_ids)
        assert ids == ["sub-0001", "sub-0002", "sub-0003", "sub-0004"], source
        for c in cohorts:
            x = c.numpy()
            assert x.shape[1:] == (16, 24, 16) and x.min() >= 0 and x.max() <= 1 and np.isfinite(x).all()
        if source != "nifti-folder":
            assert {m["sex"] for c in cohorts for m in c.metadata} <= {"F", "M"}, source
