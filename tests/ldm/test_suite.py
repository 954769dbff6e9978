"""An ldm row and its reconstruction row inside a suite: one fit shared by both rows, scored records whose
sampler carries the latent scale and the reconstruction quality; and benchmarks/latent_t1.toml validates
in both profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchgen.results.store import ResultStore
from benchgen.suite.load import load_suite
from tests.suites import TINY_UNET, tiny_suite

ROOT = Path(__file__).resolve().parents[2]

SUITE = tiny_suite("ldm_tiny", suite={"version": "1.0", "primary_metric": "mmd"},
                   dataset={"shape": [8, 8, 8], "params": {"voxel_mm": 8.0, "n_subjects": 8}},
                   generators={"ldm": {"params": {**TINY_UNET, "batch_size": 2, "max_steps": 3, "val_every": 1,
                                                  "sampler": "ddim", "inference_steps": 3, "ae_channels": [8, 8],
                                                  "ae_latent_channels": 2, "ae_norm_num_groups": 4,
                                                  "ae_max_steps": 3}},
                               "ldm-recon": {"like": "ldm", "params": {"reconstruct": True}}},
                   evaluation={"n_samples": 3})



def test_an_ldm_and_its_reconstruction_row_share_one_fit(tmp_path, monkeypatch):
    from benchgen import paths
    from benchgen.runner import run_suite

    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    path = tmp_path / "ldm.toml"
    path.write_text(SUITE)
    suite = load_suite(path, profile="default")
    summary = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert not summary.errors
    recs = {r["generator"]: r for r in ResultStore(tmp_path / "r.sqlite").records(suite="ldm_tiny")}
    assert set(recs) == {"ldm", "ldm-recon"} and all(r["status"] == "ok" for r in recs.values())
    latent = recs["ldm"]["sampler"]["latent"]
    assert latent["scale_factor"] > 0 and latent["latent_shape"] == [2, 4, 4, 4]
    assert latent["autoencoder_steps"] == 3
    assert recs["ldm-recon"]["sampler"]["sampler"] == "reconstruct"
    assert recs["ldm-recon"]["sampler"]["reconstruction"] == latent["reconstruction"]
    assert len(list(paths.cache_dir("checkpoints").glob("*/autoencoder.safetensors"))) == 1  # one shared fit


@pytest.mark.parametrize("profile", ["quick", "paper-plus"])
def test_latent_t1_validates(profile):
    suite = load_suite(ROOT / "benchmarks" / "latent_t1.toml", profile=profile)
    assert {"holdout", "gaussian", "ddpm", "ldm", "ldm-recon"} <= set(suite.generators)
    assert suite.generators["ldm-recon"].params.reconstruct
