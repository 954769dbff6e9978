"""User-facing text stands on its own: no paths outside the repository, no issue numbers, no notes from how the
work was done, and the simulated data named as such. Greps README.md, docs/ and benchmarks/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "benchmarks").rglob("*.toml")),
         *sorted((ROOT / "benchmarks").rglob("*.py"))]
# Words of the development process, not of the product (BIDS "sessions" are the product's and stay).
PROCESS_WORDS = re.compile(
    r"\.\./shared|shared/PAPER|PAPER\.md|\bissues?\s*#?\d+|issue #|the issue's|\bhelpers?\b|work ?notes?"
    r"|\b(?:this|that|earlier|previous|other|later|last|next|one)\s+session|session\s+\d|sessions' jobs"
    r"|lent to this task|measured without a GPU",
    re.IGNORECASE)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_process_wording(path: Path):
    hits = [f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r}" for n, line in enumerate(path.read_text().splitlines(), 1)
            for m in PROCESS_WORDS.finditer(line)]
    assert not hits, "\n".join(hits)


def test_the_pattern_catches_what_it_must():
    for text in ("see ../shared/PAPER.md", "issue 14 asked", "(issue #3)", "the earlier session's machine",
                 "measured in session 1", "no GPU was lent to this task"):
        assert PROCESS_WORDS.search(text), text
    for text in ('sessions = "first"', "every session is an item", "BIDS `session`"):
        assert not PROCESS_WORDS.search(text), text


def test_readme_says_the_data_are_simulated_first_and_has_limitations():
    readme = (ROOT / "README.md").read_text()
    first = "\n".join(readme.splitlines()[:40]).lower()
    assert "simulated" in first and "phantom" in first and "mni152" in first
    assert "\n## Limitations\n" in readme
    assert "reproduces the reference study" not in readme


def test_ci_runs_the_readmes_test_command_verbatim_and_the_real_browser_and_slurm():
    readme = (ROOT / "README.md").read_text()
    fresh = readme.split("## Fresh machine: two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", fresh, re.DOTALL)
    assert len(commands) == 2 and "**(a)**" in fresh and "**(b)**" in fresh, commands
    assert "benchgen run benchmarks/healthy_t1.toml" in commands[0] and "pytest" in commands[1]
    assert "--index-url https://download.pytorch.org/whl/cpu" in fresh and "Python 3.11" in fresh
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()
    assert "apt-get install -y -qq chromium slurm-wlm munge" in ci and "scripts/slurm-localhost.sh" in ci
