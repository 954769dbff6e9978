"""docs/plugins.md lists every check of benchgen.testing, in order, under "Testing your plugin"."""

from __future__ import annotations

import re

from benchgen.interfaces import KINDS
from benchgen.testing import check_names

from .conftest import REPO

COMMON = ("import", "build", "config_json")  # every kind's first two and last check, described in prose


def test_docs_list_every_check_in_order():
    doc = (REPO / "docs" / "plugins.md").read_text()
    section = doc.split("## Testing your plugin", 1)[1].split("\n## ", 1)[0]
    rows, kind = [], None
    for k, name in re.findall(r"^\|\s*([a-z]*)\s*\| `([a-z_0-9]+)` \|", section, flags=re.M):
        kind = k or kind
        rows.append((kind, name))
    expected = [(k, n) for k in KINDS for n in check_names(k) if n not in COMMON]
    assert rows == expected
    for k in KINDS:
        names = check_names(k)
        assert names[:2] == ["import", "build"] and names[-1] == "config_json"
    for name in COMMON:
        assert f"`{name}`" in section
