"""Fixtures for the registry tests: constructed entry points, with the real registry restored after."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path
from typing import Callable

import pytest

from benchgen import registry

FAKE_PLUGINS = Path(__file__).parent / "fake_plugins"


@pytest.fixture()
def inject(monkeypatch) -> Callable[[list], None]:
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
