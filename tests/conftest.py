"""Fixtures every test folder shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.suites import tiny_suite


@pytest.fixture
def tiny_suite_file(tmp_path: Path) -> Callable[..., Path]:
    """`tiny_suite_file(name, file=None, **changes)`: :func:`tests.suites.tiny_suite` (the phantom template with
    `changes` over it) written to ``tmp_path / file`` (``NAME.toml`` by default); returns the path."""

    def write(name: str = "tiny", file: str | None = None, **changes: Any) -> Path:
        path = tmp_path / (file or f"{name}.toml")
        path.write_text(tiny_suite(name, **changes))
        return path

    return write
