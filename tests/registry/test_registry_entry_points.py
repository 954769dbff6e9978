"""The plugin registry, driven by constructed entry points (no install needed)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from benchgen import registry
from benchgen.errors import ConfigError, PluginError
from benchgen.interfaces import KINDS

ROOT = Path(__file__).resolve().parents[2]


def test_listing_does_not_import_and_first_use_does(inject, ep):
    inject([ep("lazy", "bg_fake_lazy:LazyMetric", "metrics")])
    assert registry.names("metrics") == ["lazy"]
    assert registry.entries("metrics")["lazy"].status == "available"
    assert "bg_fake_lazy" not in sys.modules  # listing never imports a plugin
    cls = registry.load_class("metrics", "lazy")
    assert "bg_fake_lazy" in sys.modules and cls.__name__ == "LazyMetric"
    assert registry.entries("metrics")["lazy"].status == "loaded"
    assert registry.load_class("metrics", "lazy") is cls  # imported once, then cached
    metric = registry.create("metrics", "lazy")
    assert metric.name == "lazy"


def test_broken_plugin_is_listed_and_breaks_nothing_else(inject, ep, dist_eps, tmp_path):
    eps = dist_eps(tmp_path, "acme-braingen", "0.3.1", {"generators": {"acme": "bg_fake_broken:Gen"}})
    eps += [ep("const", "bg_fake_good:ConstGenerator"), ep("ghost", "bg_fake_no_such_module:Gen")]
    inject(eps)
    by_name = {e.name: e for e in registry.check_all()}
    assert set(by_name) == {"acme", "const", "ghost"}
    acme = by_name["acme"]
    assert (acme.status, acme.distribution, acme.dist_version) == ("broken", "acme-braingen", "0.3.1")
    assert acme.error == "ImportError: needs libfoo.so, which is not installed"
    assert by_name["ghost"].status == "broken" and "ModuleNotFoundError" in by_name["ghost"].error
    assert by_name["const"].status == "loaded"
    gen = registry.create("generators", "const", {"level": 0.25})
    assert gen.params.level == 0.25
    with pytest.raises(PluginError) as exc:
        registry.create("generators", "acme")
    assert "'acme'" in str(exc.value) and "acme-braingen" in str(exc.value) and "libfoo" in str(exc.value)


def test_one_name_from_two_distributions_is_an_error_naming_both(inject, ep, dist_eps, tmp_path):
    """Two third-party distributions, no built-in: the plain name is ambiguous, the qualified ones work."""
    eps = dist_eps(tmp_path / "a", "brainlab-gen", "1.0", {"generators": {"twin": "bg_fake_good:ConstGenerator"}})
    eps += dist_eps(tmp_path / "b", "otherlab-gen", "2.0",
                    {"generators": {"twin": "bg_fake_good:OtherConstGenerator", "solo": "bg_fake_good:ConstGenerator"}})
    inject(eps)
    assert registry.names("generators") == ["brainlab-gen:twin", "otherlab-gen:twin", "solo"]
    for ref in ("brainlab-gen:twin", "otherlab-gen:twin"):
        assert registry.entries("generators")[ref].status == "conflict"
    assert "use 'brainlab-gen:twin'" in registry.entries("generators")["brainlab-gen:twin"].note
    with pytest.raises(PluginError) as exc:
        registry.create("generators", "twin")
    msg = str(exc.value)
    assert "twin" in msg and "brainlab-gen 1.0" in msg and "otherlab-gen 2.0" in msg
    assert exc.value.hint == ("use a qualified name: 'brainlab-gen:twin' or 'otherlab-gen:twin' "
                              "(or uninstall all but one)")
    assert registry.create("generators", "brainlab-gen:twin").__class__.__name__ == "ConstGenerator"
    other = registry.create("generators", "OtherLab_Gen:twin")  # either spelling of the distribution name
    assert (type(other).__name__, other.name) == ("OtherConstGenerator", "otherlab-gen:twin")
    assert registry.create("generators", "solo").name == "solo"  # the rest of that distribution still works
    assert registry.warnings() == []  # nothing was shadowed: nothing to warn about


def test_same_distribution_seen_twice_is_not_a_conflict(inject, ep, dist_eps, tmp_path):
    same = "bg_fake_good:ConstGenerator"
    eps = dist_eps(tmp_path / "a", "brainlab-gen", "1.0", {"generators": {"const": same}})
    eps += dist_eps(tmp_path / "b", "brainlab-gen", "1.0", {"generators": {"const": same}})  # editable + copy
    inject(eps)
    assert registry.entries("generators")["const"].status == "available"
    assert registry.create("generators", "const").name == "const"


def test_unknown_name_suggests_near_names(inject, ep):
    inject([ep("gaussian", "bg_fake_good:ConstGenerator"), ep("noise", "bg_fake_good:ConstGenerator")])
    with pytest.raises(PluginError) as exc:
        registry.create("generators", "gausian")
    assert exc.value.hint == "did you mean 'gaussian'?"
    assert "unknown generator plugin 'gausian'" in exc.value.message
    with pytest.raises(PluginError) as exc:
        registry.create("generators", "stylegan")
    assert exc.value.hint == "available: gaussian, noise"
    with pytest.raises(PluginError, match="unknown plugin kind 'generator'"):
        registry.names("generator")


def test_wrong_base_class_or_not_a_class_is_broken(inject, ep):
    inject([ep("metric-as-gen", "bg_fake_good:MeanGap"), ep("func", "bg_fake_good:not_a_class"),
            ep("gap", "bg_fake_good:MeanGap", "metrics")])
    for name in ("metric-as-gen", "func"):
        with pytest.raises(PluginError, match="not a subclass of benchgen.interfaces.Generator"):
            registry.load_class("generators", name)
        assert registry.entries("generators")[name].status == "broken"
    assert registry.load_class("metrics", "gap").__name__ == "MeanGap"


def test_params_are_validated_strictly(inject, ep):
    inject([ep("const", "bg_fake_good:ConstGenerator")])
    with pytest.raises(ConfigError, match="unknown key 'levl'; did you mean 'level'"):
        registry.create("generators", "const", {"levl": 0.2})
    with pytest.raises(ConfigError, match=r"generators\.const\.params\.smooth: expected true or false"):
        registry.create("generators", "const", {"smooth": "yes"}, where="generators.const.params")


def test_refresh_restores_the_installed_plugins(inject, ep):
    inject([ep("only", "bg_fake_good:ConstGenerator")])
    assert registry.names("generators") == ["only"]
    registry.refresh()
    assert "only" not in registry.names("generators") and "gaussian" in registry.names("generators")


def test_every_built_in_entry_point_is_registered_under_benchgen():
    """The project's own entry points (pyproject.toml) are the only way built-ins are found."""
    registry.refresh()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert {g[len("benchgen."):] for g in declared} <= set(KINDS)
    for group, table in declared.items():
        kind = group[len("benchgen."):]
        found = registry.entries(kind)
        for name, value in table.items():
            assert name in found, (f"{kind} '{name}' declared in pyproject.toml but not registered "
                                  "(stale install? re-run pip install -e .)")
            assert (found[name].value, found[name].distribution) == (value, "benchgen")


def test_the_registry_knows_the_kinds_without_importing_the_interfaces():
    """registry.KIND_NAMES (no torch import) lists the same kinds, in the same order, as interfaces.KINDS."""
    assert registry.KIND_NAMES == tuple(KINDS)
