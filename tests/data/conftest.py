import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the file-hash memo and any cache out of the working tree."""
    root = tmp_path_factory.getbasetemp() / "benchgen-home"
    monkeypatch.setenv("BENCHGEN_HOME", str(root))
    monkeypatch.setenv("BENCHGEN_CACHE", str(root / "cache"))
