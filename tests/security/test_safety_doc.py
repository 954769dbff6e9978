"""docs/safety.md is linked from the README and states the rules as the code has them."""

from pathlib import Path

from benchgen.paths import CACHE_KINDS
from benchgen.safety import NAME_RE

ROOT = Path(__file__).resolve().parents[2]


def test_the_safety_page_is_linked_and_current():
    assert "(docs/safety.md)" in (ROOT / "README.md").read_text()
    doc = (ROOT / "docs" / "safety.md").read_text()
    assert f"`{NAME_RE.pattern}`" in doc  # the name rule, verbatim
    for kind in CACHE_KINDS:
        assert f"`cache/{kind}/" in doc, kind
    for heading in ("## What it writes where", "## What it never does", "## How a name becomes a path"):
        assert heading in doc
    assert "mode=ro" in doc and "inside(" in doc
