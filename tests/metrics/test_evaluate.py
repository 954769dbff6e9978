"""`benchgen evaluate` on folders of NIfTI files: JSON schema, exit codes, one-line errors."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import benchgen.cli.evaluate  # noqa: F401  (registers the command)
from benchgen.cli.app import app
from benchgen.errors import ConfigError, DataError
from benchgen.score.evaluate import evaluate, parse_param_overrides
from benchgen.volumes import write_nifti

from .conftest import make_brains

FAST = ["--param", "ms-ssim.kernel_size=3", "--param", "ms-ssim.scales=3", "--param", "prdc.k=2"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Feature caches of these tests go to a temporary folder, never ./.benchgen."""
    monkeypatch.setenv("BENCHGEN_CACHE", str(tmp_path / "cache"))


def write_set(folder, arr, prefix="v"):
    for i, a in enumerate(arr):
        write_nifti(folder / f"{prefix}{i:02d}.nii.gz", a, np.eye(4))
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    return {"real": write_set(root / "real", make_brains(6, seed=1)),
            "syn": write_set(root / "syn", make_brains(5, seed=2)),
            "train": write_set(root / "train", make_brains(7, seed=3), "t")}


def run(*args):
    return CliRunner().invoke(app, ["evaluate", *args])


def test_json_output_schema(folders, monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHGEN_CACHE", str(tmp_path / "cache"))
    r = run(str(folders["real"]), str(folders["syn"]), "--train", str(folders["train"]), "--format", "json",
            "--param", "mmd.bootstrap=10", *FAST)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["n_real"] == 6 and data["n_synthetic"] == 5
    assert set(data["metrics"]) == {"mmd", "frd", "ms-ssim", "prdc.precision", "prdc.recall", "prdc.density",
                                    "prdc.coverage", "memorization.copies", "memorization.authpct"}
    for m in data["metrics"].values():
        assert {"value", "ci", "higher_is_better", "reference", "status", "message", "params"} <= set(m)
        assert m["status"] == "ok" and isinstance(m["value"], float)
    assert data["metrics"]["mmd"]["params"]["bootstrap"] == 10
    assert data["metrics"]["ms-ssim"]["reference"] is not None
    assert data["metrics"]["prdc.recall"]["higher_is_better"] is True
    assert data["metrics"]["memorization.authpct"]["higher_is_better"] is True
    assert list((tmp_path / "cache" / "features").glob("radiomics-*.npy"))  # real features cached


def test_glob_and_table(folders):
    r = run(str(folders["real"] / "*.nii.gz"), str(folders["syn"]), "--metric", "mmd")
    assert r.exit_code == 0, r.output
    assert "mmd" in r.stdout and "lower" in r.stdout


def test_metric_error_exits_nonzero_with_one_line(folders):
    r = run(str(folders["real"]), str(folders["syn"]), "--metric", "memorization", "--format", "json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["metrics"]["memorization"]["status"] == "error"
    assert "memorization: needs the training set" in r.stderr


def test_empty_folder_and_bad_param(folders, tmp_path):
    (tmp_path / "empty").mkdir()
    r = run(str(tmp_path / "empty"), str(folders["syn"]), "--metric", "mmd")
    assert r.exit_code == 2 and "no NIfTI files" in r.stderr
    r = run(str(folders["real"]), str(folders["syn"]), "--metric", "mmd", "--param", "mmd.kernal=x")
    assert r.exit_code == 2 and "unknown key 'kernal'" in r.stderr
    r = run(str(folders["real"]), str(folders["syn"]), "--metric", "ms-ssim")  # kernel 4, 5 scales: too big
    assert r.exit_code == 1 and "what fits: kernel_size <= 4 with scales=3" in r.stderr


def test_shape_mismatch_names_the_file(folders, tmp_path):
    odd = write_set(tmp_path / "odd", make_brains(2, seed=1))
    write_nifti(odd / "z.nii.gz", make_brains(1, (16, 24, 18))[0], np.eye(4))
    with pytest.raises(DataError, match=r"z.nii.gz: shape 16×24×18 differs"):
        evaluate(folders["real"], odd, ["mmd"])


def test_normalize_rescales(folders, tmp_path):
    scaled = write_set(tmp_path / "scaled", make_brains(5, seed=2) * 1000.0)
    b = evaluate(folders["real"], scaled, ["mmd"], params={"mmd": {"bootstrap": 0}}, normalize=True)
    d = evaluate(folders["real"], folders["syn"], ["mmd"], params={"mmd": {"bootstrap": 0}}, normalize=True)
    assert b["metrics"]["mmd"]["value"] == pytest.approx(d["metrics"]["mmd"]["value"], rel=1e-5)


def test_out_of_range_intensities_are_refused_naming_the_file(folders, tmp_path):
    vols = make_brains(5, seed=2)
    scaled = write_set(tmp_path / "scaled", vols * 1000.0 / vols[0].max())
    with pytest.raises(DataError, match=r"v00.nii.gz: intensities in \[0, 1000\], outside \[0, 1\] \(synthetic "
                                        r"set\).*--normalize.*benchgen preprocess") as exc:
        evaluate(folders["real"], scaled, ["mmd"])
    assert "\n" not in str(exc.value)  # one line (the terminal may wrap it)
    r = run(str(folders["real"]), str(scaled), "--metric", "mmd")
    assert r.exit_code == 2 and "v00.nii.gz: intensities in [0, 1000]" in r.stderr and "Traceback" not in r.stderr
    vols = make_brains(3, seed=4)
    vols[1, 3, 3, 3], vols[2, 4, 4, 4] = 1.0 + 5e-5, -2e-4  # within / beyond the 1e-4 tolerance
    edge = write_set(tmp_path / "edge", vols)
    with pytest.raises(DataError, match=r"v02.nii.gz: intensities in \[-0.0002, "):
        evaluate(folders["real"], edge, ["mmd"])
    ok = write_set(tmp_path / "ok", vols[:2])
    assert evaluate(folders["real"], ok, ["mmd"], params={"mmd": {"bootstrap": 0}})["metrics"]["mmd"]["status"] == "ok"


def test_arrays_follow_the_same_intensity_rules(folders):
    vols = make_brains(4, seed=6)
    with pytest.raises(DataError, match=r"^volume 0 \(synthetic-0000\) of the synthetic set: intensities in "
                                        r"\[0, 2\.6"):  # the brightest voxel of volume 0 is 0.875
        evaluate(folders["real"], vols * 3.0, ["mmd"])
    a = evaluate(folders["real"], vols * 3.0, ["mmd"], params={"mmd": {"bootstrap": 0}}, normalize=True)
    b = evaluate(folders["real"], vols, ["mmd"], params={"mmd": {"bootstrap": 0}}, normalize=True)
    assert a["metrics"]["mmd"]["value"] == pytest.approx(b["metrics"]["mmd"]["value"], rel=1e-5)


def test_normalize_is_the_scale_01_preprocessing_step(tmp_path):
    from benchgen import registry
    from benchgen.interfaces import PrepContext
    from benchgen.score.evaluate import load_set
    from benchgen.volumes import read_nifti

    rng = np.random.default_rng(0)
    vols = make_brains(3, seed=5) * 300.0 - 50.0 * (make_brains(3, seed=5) > 0)  # raw-scanner-like units
    vols[0, 8, 12, 8] = 5000.0  # one hot voxel: min-max scaling would squash everything else
    vols[vols == 0] = 0.0
    vols[1] += rng.normal(0, 1.0, vols[1].shape).astype(np.float32) * (vols[1] != 0)
    folder = write_set(tmp_path / "raw", vols.astype(np.float32))
    cohort, files = load_set(folder, "synthetic", normalize=True)
    step = registry.create("preprocessors", "scale-01", {})
    for i, f in enumerate(files):
        v = read_nifti(f)
        expected = step(v, PrepContext(target_shape=v.array.shape)).array
        np.testing.assert_array_equal(cohort.data[i, 0].numpy(), expected)
    out = cohort.data.numpy()
    assert out.min() == 0.0 and out.max() == 1.0 and (out[vols[:, None] == 0] == 0).all()
    minmax = (vols[0] - vols[0].min()) / (vols[0].max() - vols[0].min())
    assert np.median(out[0, 0][vols[0] != 0]) > 2 * np.median(minmax[vols[0] != 0])  # not per-volume min-max


def test_param_parsing():
    assert parse_param_overrides(["ms-ssim.kernel_size=3", "mmd.kernel=gaussian", "fid.eps=1e-4"]) == {
        "ms-ssim": {"kernel_size": 3}, "mmd": {"kernel": "gaussian"}, "fid": {"eps": 1e-4}}
    with pytest.raises(ConfigError, match="METRIC.KEY=VALUE"):
        parse_param_overrides(["kernel_size"])
