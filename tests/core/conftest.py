import sys
from importlib.metadata import EntryPoint

import pytest

from benchgen import registry
from tests.core import fakes


def fake_entry_points():
    sys.modules.setdefault("benchgen_testfakes", fakes)
    spec = {"datasets": {"blobs": "Blobs"}, "preprocessors": {"identity": "Identity"},
            "generators": {"mean": "MeanGen"}, "metrics": {"meandiff": "MeanDiff", "pair": "Pair"}}
    return [EntryPoint(name, f"benchgen_testfakes:{cls}", f"benchgen.{kind}")
            for kind, d in spec.items() for name, cls in d.items()]


@pytest.fixture
def fake_registry():
    registry.refresh(fake_entry_points())
    yield
    registry.refresh()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    return tmp_path / "home"


SUITE = '''
[suite]
name = "toy"
version = "1"
primary_metric = "meandiff"

[dataset]
source = "blobs"
shape = [6, 8, 6]
split = { train = 0.5, val = 0.25, test = 0.25 }
params = { n_subjects = 20 }

[preprocessing]
steps = ["identity"]

[generators.good]
plugin = "mean"
[generators.bad]
plugin = "mean"
params = { scale = 0.5 }

[evaluation]
n_samples = 4
seeds = [0, 1]
bootstrap = 7
[evaluation.metrics.meandiff]

[profiles.quick]
evaluation = { seeds = [0] }
'''


@pytest.fixture
def suite_file(tmp_path):
    def write(text=SUITE, name="toy.toml"):
        p = tmp_path / name
        p.write_text(text)
        return p
    return write
