"""docs/plugins.md shows the example package file by file: keep it identical to the tested fixture."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "benchgen_example_plugin"


def test_docs_show_the_fixture_package_verbatim():
    doc = (REPO / "docs" / "plugins.md").read_text()
    shown = dict(re.findall(r"#### `([^`]+)`\n\n```[a-z]+\n(.*?)\n```", doc, flags=re.S))
    files = sorted(str(p.relative_to(FIXTURE)) for p in FIXTURE.rglob("*")
                   if p.is_file() and p.suffix in (".py", ".toml") and "build" not in p.parts)
    assert sorted(shown) == files, "docs/plugins.md must show every file of the example package"
    for rel, text in shown.items():
        assert text == (FIXTURE / rel).read_text().rstrip(), f"docs/plugins.md differs from {rel}"
