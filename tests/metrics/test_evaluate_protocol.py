"""`benchgen evaluate --protocol NAME` on tiny NIfTI folders: the preset's metrics, the protocol in the output
and in every score, "n below protocol", FID `skipped` with the download instructions without weights."""

import json

import pytest
from typer.testing import CliRunner

import benchgen.cli.evaluate  # noqa: F401  (registers the commands)
from benchgen.cli.app import app
from benchgen.suite import protocols

from .conftest import make_brains
from .test_evaluate import write_set

SIDE = 112  # the smallest cube MS-SSIM with kernel 7 and 5 scales fits (7 · 2⁴)


@pytest.fixture(autouse=True)
def _no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCHGEN_MEDICALNET_WEIGHTS", raising=False)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("protocol")
    shape = (SIDE, SIDE, SIDE)
    return {"real": write_set(root / "real", make_brains(3, shape, seed=1)),
            "syn": write_set(root / "syn", make_brains(3, shape, seed=2))}


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_evaluate_wdm3d_json_records_protocol_and_skips_fid(big):
    r = run("evaluate", str(big["real"]), str(big["syn"]), "--protocol", "wdm-3d", "--format", "json",
            "--param", "ms-ssim.bootstrap=20")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["protocol"] == "wdm-3d"
    assert set(data["metrics"]) == set(protocols.PROTOCOLS["wdm-3d"].metrics) == {"fid", "ms-ssim"}
    assert {m["protocol"] for m in data["metrics"].values()} == {"wdm-3d"}
    fid = data["metrics"]["fid"]
    assert fid["status"] == "skipped" and fid["params"]["features"] == "medicalnet-resnet50"
    for words in ("resnet_50_23dataset.pth", "https://huggingface.co/TencentMedicalNet/MedicalNet-Resnet50",
                  "--param <metric>.weights=PATH", "BENCHGEN_MEDICALNET_WEIGHTS"):
        assert words in fid["message"]
    ms = data["metrics"]["ms-ssim"]
    assert ms["status"] == "ok" and ms["params"]["kernel_size"] == 7 and ms["params"]["data_range"] == 1.0
    assert ms["params"]["bootstrap"] == 20  # a neutral param reaches the metric
    check = data["protocol_check"]
    assert check["below"] is True and check["note"] == "n below protocol (3 < 1000; n_real 3 < 1000)"


def test_evaluate_protocol_table_names_it(big):
    r = run("evaluate", str(big["real"]), str(big["syn"]), "--protocol", "wdm-3d", "--param", "ms-ssim.bootstrap=0",
            "--param", "fid.weights=/nonexistent/resnet_50_23dataset.pth")
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "protocol wdm-3d" in text and "n below protocol (3 < 1000; n_real 3 < 1000)" in text
    assert "no such file" in text  # the weights path given as a neutral param was used


@pytest.mark.parametrize("args, words", [
    (["--metric", "mmd"], "--metric and --protocol wdm-3d: a protocol fixes its metrics (fid, ms-ssim)"),
    (["--param", "ms-ssim.kernel_size=3"], "--param ms-ssim: protocol 'wdm-3d' fixes kernel_size"),
    (["--param", "mmd.bootstrap=3"], "'mmd' is not one of them"),
    (["--train", "."], "--train: protocol wdm-3d has no metric that uses a training set"),
])
def test_evaluate_protocol_refuses_other_metrics_and_settings(big, args, words):
    r = run("evaluate", str(big["real"]), str(big["syn"]), "--protocol", "wdm-3d", *args)
    assert r.exit_code == 2 and words in " ".join(r.stderr.split()), r.output


def test_unknown_protocol_lists_the_known_ones(big):
    r = run("evaluate", str(big["real"]), str(big["syn"]), "--protocol", "wdm3d")
    assert r.exit_code == 2
    assert "--protocol: unknown protocol 'wdm3d'; known protocols: seed-paper, wdm-3d, ha-gan, brain-ldm" in r.stderr


def test_protocols_listing():
    r = run("protocols", "--format", "json")
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [p["name"] for p in listed] == list(protocols.PROTOCOLS)
    assert listed[1]["metrics"]["ms-ssim"]["params"]["kernel_size"] == 7
    r = run("protocols", "ha-gan")
    assert r.exit_code == 0 and "batmanlab/HA-GAN: evaluation/fid_score.py" in " ".join(r.stdout.split())
