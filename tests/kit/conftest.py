"""Fixtures for the plugin-kit tests: third-party fixture packages built as wheels and pip-installed
(no deps, no network) into a temporary site folder, and a way to run `benchgen` in a subprocess."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from benchgen import registry

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
PACKAGES = ("benchgen_example_plugin", "benchgen_broken_plugin")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
IGNORE = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache")


def pip(*args: str) -> None:
    proc = subprocess.run([*PIP, *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def build_wheel(src: Path, dist: Path) -> Path:
    """`pip wheel` of the package at `src` (offline, with the installed setuptools) into `dist`."""
    before = set(dist.glob("*.whl")) if dist.exists() else set()
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(src))
    (wheel,) = set(dist.glob("*.whl")) - before
    return wheel


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """Both fixture packages, copied, built as wheels and installed into one site folder:
    {"site": Path, "src": {package: copied source folder}, "wheels": [Path, ...]}."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools is needed to build the fixture plugins offline (--no-build-isolation); "
                    "install benchgen's [test] extra", pytrace=False)
    tmp = tmp_path_factory.mktemp("kit")
    srcs = {name: Path(shutil.copytree(FIXTURES / name, tmp / "src" / name, ignore=IGNORE)) for name in PACKAGES}
    wheels = [build_wheel(src, tmp / "dist") for src in srcs.values()]
    site = tmp / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(site), *map(str, wheels))
    return {"site": site, "src": srcs, "wheels": wheels}


@pytest.fixture(scope="module")
def installed(kit):
    """The kit's site folder on sys.path, the registry rescanned; everything restored afterwards."""
    site = str(kit["site"])
    sys.path.insert(0, site)
    importlib.invalidate_caches()
    registry.refresh()
    try:
        yield kit
    finally:
        sys.path.remove(site)
        for mod in [m for m in sys.modules if m.split(".")[0] in ("benchgen_example", "benchgen_broken")]:
            del sys.modules[mod]
        importlib.invalidate_caches()
        registry.refresh()


@pytest.fixture()
def run_benchgen(kit, tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """`run_benchgen(*args)`: the `benchgen` command (its console-script entry, benchgen.cli:main) in a
    subprocess that sees the kit's site folder, with a scratch BENCHGEN_HOME; stdout and stderr together."""
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(kit["site"]), os.environ.get("PYTHONPATH")]))}
    env.pop("BENCHGEN_CACHE", None)

    def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", "from benchgen.cli import main; main()", *args],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
    return _run
