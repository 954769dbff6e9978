"""The core's fake plugins installed as a distribution (a dist-info folder on PYTHONPATH), so that worker
processes started by submitit find them through entry points, as they would a real plugin."""

import os
from pathlib import Path

import pytest

from benchgen import registry
from tests.core.conftest import suite_file  # noqa: F401 (the suite-writing fixture, shared)

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = """[benchgen.datasets]
blobs = benchgen_clusterfakes:Blobs
[benchgen.preprocessors]
identity = benchgen_clusterfakes:Identity
[benchgen.generators]
mean = benchgen_clusterfakes:MeanGen
[benchgen.metrics]
meandiff = benchgen_clusterfakes:MeanDiff
pair = benchgen_clusterfakes:Pair
"""


@pytest.fixture(scope="session")
def fake_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("clusterfakes-site")
    (site / "benchgen_clusterfakes.py").write_text("from tests.core.fakes import *  # noqa: F401,F403\n")
    info = site / "benchgen_clusterfakes-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchgen-clusterfakes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture
def cluster_env(fake_site, tmp_path, monkeypatch):
    """This process and its workers see the fakes; BENCHGEN_HOME is the test's own."""
    monkeypatch.syspath_prepend(str(fake_site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(fake_site), str(ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    monkeypatch.setenv("BENCHGEN_PROGRESS_INTERVAL", "0")
    registry.refresh()
    yield tmp_path
    registry.refresh()
