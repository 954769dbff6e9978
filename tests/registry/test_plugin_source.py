"""benchgen.plugin_source finds a plugin class's docstring from source without importing anything."""

from __future__ import annotations

import sys
import textwrap

import pytest

from benchgen import plugin_source
from benchgen.plugin_source import SourceInfo, class_info, module_file

FILES = {
    # importing the package would fail loudly: the reader must never import it
    "bg_src_probe/__init__.py": 'raise RuntimeError("bg_src_probe was imported")\n',
    "bg_src_probe/sub/__init__.py": "from .mod import Model as Exported\nfrom bg_src_probe.sub.mod import Model\n",
    "bg_src_probe/sub/mod.py": '''
        """A module."""
        import torch  # never executed


        class Model:
            """The model.

                Indented details.
            """

            version: str = "3"

            class Params:
                """Nested params."""


        Alias = Model


        class Twice:
            """The first definition."""


        class Twice:  # redefined: the last definition wins, as at run time
            """The second definition."""

            version = "4"
    ''',
    "bg_src_probe/broken.py": "class Broken(:\n",
    "bg_src_top.py": 'class Top:\n    """Top-level module."""\n    version = f"{1}"\n',
}


@pytest.fixture()
def probe(tmp_path, monkeypatch):
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin_source.clear_cache()
    yield tmp_path
    plugin_source.clear_cache()
    assert not [m for m in sys.modules if m.startswith(("bg_src_probe", "bg_src_top"))], "the reader imported"


def test_module_files_are_found_without_importing_the_parent_package(probe):
    assert module_file("bg_src_probe.sub.mod") == probe / "bg_src_probe" / "sub" / "mod.py"
    assert module_file("bg_src_probe.sub") == probe / "bg_src_probe" / "sub" / "__init__.py"
    assert module_file("bg_src_top") == probe / "bg_src_top.py"
    assert module_file("bg_src_probe.nothing") is None and module_file("bg_src_no_such_package.x") is None


def test_docstrings_versions_re_exports_and_nested_classes(probe):
    mod = probe / "bg_src_probe" / "sub" / "mod.py"
    assert class_info("bg_src_probe.sub.mod", "Model") == SourceInfo("The model.\n\nIndented details.", "3", mod)
    assert class_info("bg_src_probe.sub.mod", "Twice") == SourceInfo("The second definition.", "4", mod)
    assert class_info("bg_src_probe.sub", "Exported").doc == "The model.\n\nIndented details."  # relative
    assert class_info("bg_src_probe.sub", "Model").version == "3"  # absolute re-export
    assert class_info("bg_src_probe.sub.mod", "Alias").version == "3"
    assert class_info("bg_src_probe.sub.mod", "Model.Params").doc == "Nested params."
    assert class_info("bg_src_top", "Top") == SourceInfo("Top-level module.", None, probe / "bg_src_top.py")


def test_anything_unreadable_is_an_empty_description(probe):
    for module, attr in [("bg_src_probe.broken", "Broken"), ("bg_src_probe.sub.mod", "Missing"),
                         ("bg_src_probe.sub.mod", "Model.Missing"), ("bg_src_no_such_package", "X"),
                         ("bg_src_top", None), ("sys", "path")]:
        assert class_info(module, attr) == SourceInfo(), (module, attr)
