import numpy as np
import pytest
import torch
from benchgen_metrics.features.medicalnet import build_resnet

from benchgen import registry
from benchgen.errors import DataError, MissingWeightsError
from benchgen.hashing import file_sha256
from benchgen.interfaces import MetricContext

from .conftest import cohort, make_brains


@pytest.fixture(scope="module")
def wrapped_weights(tmp_path_factory):
    """A randomly initialised ResNet-10 saved the way the original MedicalNet files are."""
    torch.manual_seed(0)
    net = build_resnet(10)
    path = tmp_path_factory.mktemp("w") / "resnet_10.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    return path, net


def test_loads_wrapped_weights_and_extracts_512_features(wrapped_weights):
    path, net = wrapped_weights
    ext = registry.create("features", "medicalnet-resnet10", {"weights": str(path)})
    vols = torch.from_numpy(make_brains(3, (16, 24, 16)))[:, None]
    feats = ext.extract(vols)
    assert feats.shape == (3, 512) and np.isfinite(feats).all()
    with torch.no_grad():
        x = vols[:1]
        ref = net.eval()((x - x.mean()) / x.std()).double().numpy()
    np.testing.assert_allclose(feats[:1], ref, rtol=1e-4, atol=1e-6)
    assert ext.weights_sha256() == file_sha256(path)


def test_bare_state_dict_and_folder_and_env_var(wrapped_weights, tmp_path, monkeypatch):
    _, net = wrapped_weights
    torch.save(net.state_dict(), tmp_path / "resnet_10_23dataset.pth")
    monkeypatch.setenv("BENCHGEN_MEDICALNET_WEIGHTS", str(tmp_path))
    ext = registry.create("features", "medicalnet-resnet10", {})
    assert ext.weights_path().name == "resnet_10_23dataset.pth"
    assert ext.extract(torch.from_numpy(make_brains(2))[:, None]).shape == (2, 512)


def test_wrong_architecture_is_one_line(wrapped_weights):
    path, _ = wrapped_weights
    ext = registry.create("features", "medicalnet-resnet50", {"weights": str(path)})
    with pytest.raises(DataError, match=r"resnet_10.pth: not MedicalNet ResNet-50 weights"):
        ext.extract(torch.zeros(2, 1, 16, 16, 16))


def test_missing_weights(monkeypatch, tmp_path):
    monkeypatch.delenv("BENCHGEN_MEDICALNET_WEIGHTS", raising=False)
    with pytest.raises(MissingWeightsError, match="download resnet_50_23dataset.pth"):
        registry.create("features", "medicalnet-resnet50", {}).weights_path()
    with pytest.raises(MissingWeightsError, match="no such file"):
        registry.create("features", "medicalnet-resnet50", {"weights": str(tmp_path / "x.pth")}).weights_path()


def test_fid_with_medicalnet_records_sha(wrapped_weights):
    path, _ = wrapped_weights
    real, syn = cohort(make_brains(4, seed=1)), cohort(make_brains(4, seed=2))
    res = registry.create("metrics", "fid", {"features": "medicalnet-resnet10", "weights": str(path),
                                             "bootstrap": 5}).score(syn, real, None, MetricContext())
    assert res.status == "ok" and res.value > 0 and res.details["weights_sha256"] == file_sha256(path)
    assert res.details["zscore"] is False and res.details["features_dim"] == 512
