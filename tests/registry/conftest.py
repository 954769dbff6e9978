"""Fixtures for the registry tests: constructed entry points, with the real registry restored after."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from benchgen import registry

FAKE_PLUGINS = Path(__file__).parent / "fake_plugins"


@pytest.fixture()
def fresh_warnings(monkeypatch) -> None:
    """Registry warnings are emitted once per process: start this test with none emitted yet."""
    monkeypatch.setattr(registry, "_warned", set())
    monkeypatch.setattr(registry, "_emitted", [])


@pytest.fixture()
def inject(monkeypatch, fresh_warnings) -> Callable[[list], None]:
    """`inject(entry_points)` replaces the registry's scan; the real scan is restored afterwards."""
    monkeypatch.syspath_prepend(str(FAKE_PLUGINS))
    for mod in [m for m in sys.modules if m.startswith("bg_fake_")]:
        monkeypatch.delitem(sys.modules, mod)
    yield registry.refresh
    registry.refresh()


def _ep(name: str, value: str, kind: str = "generators") -> md.EntryPoint:
    """A constructed entry point with no distribution (listed as '?')."""
    return md.EntryPoint(name, value, f"benchgen.{kind}")


def _dist_eps(root: Path, dist: str, version: str, entries: dict[str, dict[str, str]]) -> list[md.EntryPoint]:
    """Entry points bound to a distribution `dist` whose metadata is written under `root` (not on sys.path),
    so the registry sees a real distribution name and version. `entries`: {kind: {name: "module:attr"}}."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = []
    for kind, table in entries.items():
        lines.append(f"[benchgen.{kind}]")
        lines += [f"{name} = {value}" for name, value in table.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return list(md.PathDistribution(info).entry_points)


@pytest.fixture()
def ep() -> Callable[..., md.EntryPoint]:
    """`ep(name, "module:attr", kind="generators")`: an entry point with no distribution."""
    return _ep


@pytest.fixture()
def dist_eps() -> Callable[..., list[md.EntryPoint]]:
    """`dist_eps(root, dist, version, {kind: {name: value}})`: entry points of a distribution."""
    return _dist_eps


# A tiny third-party distribution that registers a generator under the built-in name `ddpm`.
OTHER_DDPM_FILES = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "other-dist"
version = "1.0"
description = "Another lab's generator, registered under a name benchgen already has"
requires-python = ">=3.11"

[project.entry-points."benchgen.generators"]
ddpm = "other_ddpm.generator:OtherDDPM"

[tool.setuptools]
packages = ["other_ddpm"]
""",
    "other_ddpm/__init__.py": '"""Another lab\'s plugins."""\n',
    "other_ddpm/generator.py": '''"""A trivial generator registered as `ddpm`, to collide with the built-in."""

from pathlib import Path

import torch

from benchgen.interfaces import Generator


class OtherDDPM(Generator):
    """Another lab's "DDPM": the training mean, every time."""

    version = "7"

    def fit(self, train, ctx) -> None:
        self.mean = train.data.mean(0, keepdim=True)

    def sample(self, n: int, seed: int, progress=None) -> torch.Tensor:
        return self.mean.repeat(n, 1, 1, 1, 1).clamp(0, 1)

    def save(self, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)

    def load(self, folder: Path) -> None:
        pass
''',
}


@pytest.fixture(scope="session")
def other_ddpm_site(tmp_path_factory) -> Path:
    """The `other-dist` 1.0 distribution really pip-installed (no deps, no network) into a temporary folder,
    which is NOT on sys.path: put it there (or on PYTHONPATH for a subprocess) to see it."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools is needed to build the fixture plugin offline (--no-build-isolation); "
                    "install benchgen's [test] extra", pytrace=False)
    tmp = tmp_path_factory.mktemp("other-dist")
    src, site = tmp / "src", tmp / "site"
    for rel, text in OTHER_DDPM_FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--disable-pip-version-check", "--quiet", "--target", str(site), str(src)],
                          capture_output=True, text=True, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert proc.returncode == 0, f"pip install of other-dist failed:\n{proc.stdout}\n{proc.stderr}"
    assert (site / "other_dist-1.0.dist-info").is_dir()
    return site
