"""The architecture rules of docs/architecture.md, read from the source: each test lists every offender.

The last tests feed the same graph functions a tiny synthetic tree, so that each rule is seen to fail when
it is broken (a rule whose checker finds nothing in any tree would pass forever)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.graph import MAX_LINES, forbidden_imports, long_files, loops, modules, private_imports


@pytest.fixture(scope="module")
def found():
    """The import graph of benchgen and plugins/benchgen_*, read once for the rules."""
    return modules()


def _plugins(found) -> list[str]:
    """The plugin packages: every top-level package read but benchgen itself."""
    return sorted(name for name in found if "." not in name and name != "benchgen")


def test_no_import_loop(found):
    cycles = loops(found)
    assert not cycles, "import loops (module- and function-level imports both count), each a set of modules " \
                       "that import one another:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_file_over_the_line_limit():
    offenders = long_files()
    assert not offenders, f"files over {MAX_LINES} lines in benchgen/ and plugins/ (split them by job):\n" + \
        "\n".join(offenders)


def test_no_private_name_imported_across_modules(found):
    offenders = private_imports(found)
    assert not offenders, "private names used outside their module (make the helper public):\n" + \
        "\n".join(offenders)


def test_the_core_imports_no_plugin_and_not_the_cli(found):
    offenders = forbidden_imports(found, "benchgen", refused=[*_plugins(found), "benchgen.cli"],
                                  exempt=("benchgen.cli",))
    assert not offenders, "the core reaches plugins only through entry points, and never imports the CLI:\n" + \
        "\n".join(offenders)


def test_functional_maths_imports_only_itself_and_errors(found):
    offenders = forbidden_imports(found, "benchgen.functional", allowed=["benchgen.functional", "benchgen.errors"])
    assert not offenders, "benchgen.functional is pure maths: it may import benchgen.functional and " \
                          "benchgen.errors only (no plugin, no CLI, no stage folder):\n" + "\n".join(offenders)


# ------------------------------------------------------------------------------ the rules can fail
def _tree(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"core": root / "core", "core_plugin": root / "core_plugin"}


BROKEN = {
    "core/__init__.py": "",
    "core/a.py": "from core import b\n",
    "core/b.py": "def f():\n    from core.c import helper  # a function-level import closes the loop\n",
    "core/c.py": "import core.a\n\n\ndef helper():\n    pass\n",
    "core/d.py": "from core.e import _hidden\nfrom . import e as e_mod\n\nx = e_mod._other\n",
    "core/e.py": "_hidden = 1\n_other = 2\n",
    "core/cli/__init__.py": "import core_plugin.gen  # the CLI may\n",
    "core/f.py": "def f():\n    from core_plugin import gen\n    from core.cli import app\n",
    "core/functional/__init__.py": "",
    "core/functional/maths.py": "from core.functional import other\nfrom core import errors\nfrom core.a import x\n",
    "core/functional/other.py": "",
    "core/errors.py": "",
    "core_plugin/__init__.py": "",
    "core_plugin/gen.py": "from core.e import _hidden  # a plugin taking a private name of the core\n",
}


def test_a_loop_through_a_function_level_import_is_reported(tmp_path):
    found = modules(_tree(tmp_path, BROKEN))
    assert loops(found) == [["core.a", "core.b", "core.c"]]
    found["core.c"].imports = set()  # without the edge back there is no loop
    assert loops(found) == []


def test_private_names_from_another_module_are_reported(tmp_path):
    found = modules(_tree(tmp_path, BROKEN))
    assert private_imports(found) == ["core.d: core.e._hidden", "core.d: core.e._other",
                                      "core_plugin.gen: core.e._hidden"]


def test_a_long_file_is_reported(tmp_path):
    _tree(tmp_path, {"core/long.py": "x = 1\n" * (MAX_LINES + 1), "core/ok.py": "x = 1\n" * MAX_LINES})
    assert long_files([tmp_path / "core"]) == [f"core/long.py: {MAX_LINES + 1} lines"]


def test_core_to_plugin_cli_and_functional_imports_are_reported(tmp_path):
    found = modules(_tree(tmp_path, BROKEN))
    core = forbidden_imports(found, "core", refused=["core_plugin", "core.cli"], exempt=("core.cli",))
    assert core == ["core.f -> core.cli", "core.f -> core_plugin.gen"]
    functional = forbidden_imports(found, "core.functional", allowed=["core.functional", "core.errors"])
    assert functional == ["core.functional.maths -> core.a"]
