"""A plugin whose import fails keeps its full traceback: one line without --debug, the plugin's own
frame (file and line) with it."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from benchgen import registry
from benchgen.errors import BenchgenError, ConfigError, DataError, PluginError

BROKEN_FRAME = 'bg_fake_broken.py", line 3, in <module>'


def cli():
    import benchgen.cli

    for name in benchgen.cli.COMMAND_MODULES:
        __import__(f"benchgen.cli.{name}")
    return benchgen.cli.app


def test_broken_plugin_error_carries_the_import_traceback(inject, dist_eps, tmp_path):
    inject(dist_eps(tmp_path, "acme-braingen", "0.3.1", {"generators": {"acme": "bg_fake_broken:Gen"}}))
    with pytest.raises(PluginError) as exc:
        registry.load_class("generators", "acme")
    assert exc.value.details is exc.value.debug_details
    assert BROKEN_FRAME in exc.value.details and "ImportError: needs libfoo.so" in exc.value.details
    assert BROKEN_FRAME in registry.entries("generators")["acme"].details
    assert BROKEN_FRAME not in str(exc.value)  # the message itself stays one line


def test_debug_details_default_to_none_and_travel_with_rewrapped_errors():
    assert BenchgenError("x").debug_details is None and DataError("x", "h").debug_details is None
    assert ConfigError("x", debug_details="tb").debug_details == "tb"
    assert PluginError("x", "hint", "tb").details == "tb"


def test_debug_prints_the_plugin_traceback_before_the_one_line(inject, dist_eps, tmp_path, monkeypatch):
    from tests.core import fakes
    from tests.core.conftest import SUITE, fake_entry_points

    monkeypatch.setitem(sys.modules, "benchgen_testfakes", fakes)
    inject(fake_entry_points() + dist_eps(tmp_path, "acme-braingen", "0.3.1",
                                          {"generators": {"acme": "bg_fake_broken:Gen"}}))
    suite = tmp_path / "toy.toml"
    suite.write_text(SUITE.replace('plugin = "mean"', 'plugin = "acme"', 1))

    res = CliRunner().invoke(cli(), ["validate", str(suite)])
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0].startswith("error: ") and "Traceback" not in res.output
    assert "generators.good: generator plugin 'acme' from acme-braingen is broken" in res.stderr

    res = CliRunner().invoke(cli(), ["--debug", "validate", str(suite)])
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and any(BROKEN_FRAME in line for line in lines)
    error = next(i for i, line in enumerate(lines) if line.startswith("error: "))
    assert any("ImportError: needs libfoo.so" in line for line in lines[:error])  # the traceback comes first
    assert "generator plugin 'acme' from acme-braingen is broken" in lines[error]

    res = CliRunner().invoke(cli(), ["--debug", "list", "acme"])  # the detail view shows it too with --debug
    assert res.exit_code == 0 and BROKEN_FRAME in res.stderr
    assert BROKEN_FRAME not in CliRunner().invoke(cli(), ["list", "acme"]).output


def test_debug_without_details_shows_where_the_error_was_raised(tmp_path):
    res = CliRunner().invoke(cli(), ["--debug", "validate", str(tmp_path / "missing.toml")])
    assert res.exit_code == 2
    assert res.stderr.startswith("Traceback (most recent call last):") and "suite/load.py" in res.stderr
    assert res.stderr.splitlines()[-2].startswith("error: ") and "no such suite file" in res.stderr
