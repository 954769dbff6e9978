"""`registry.create` / `load_class` / `instantiate` are typed per kind (no casts at call sites; the
`assert_type` lines are checked by a type checker, e.g. `mypy tests/registry/test_registry_typing.py`),
and `registry.instantiate` is the one place a plugin is constructed."""

from __future__ import annotations

from typing import Any, assert_type

import pytest

from benchgen import registry
from benchgen.interfaces import DatasetSource, FeatureExtractor, Generator, Metric, Plugin, Preprocessor
from benchgen.params import parse_params


def test_create_is_typed_per_kind() -> None:
    gen = registry.create("generators", "noise")
    assert_type(gen, Generator)
    metric = registry.create("metrics", "mmd", {"bootstrap": 0})
    assert_type(metric, Metric)
    step = registry.create("preprocessors", "scale-01")
    assert_type(step, Preprocessor)
    source = registry.create("datasets", "phantom")
    assert_type(source, DatasetSource)
    ext = registry.create("features", "radiomics")
    assert_type(ext, FeatureExtractor)
    assert_type(registry.load_class("generators", "noise"), type[Generator])
    assert_type(registry.instantiate("metrics", "mmd", None), Metric)
    kind: str = "generators"
    assert_type(registry.create(kind, "noise"), Plugin)  # a kind only known at run time: the base class
    for obj, base in [(gen, Generator), (metric, Metric), (step, Preprocessor), (source, DatasetSource),
                      (ext, FeatureExtractor)]:
        assert isinstance(obj, base)


def test_instantiate_is_the_one_constructor(monkeypatch: pytest.MonkeyPatch, inject: Any, ep: Any) -> None:
    from benchgen.suite.model import PluginSpec

    inject([ep("const", "bg_fake_good:ConstGenerator")])
    cls = registry.load_class("generators", "const")
    params = parse_params(cls.Params, {"level": 0.3}, "test")
    gen = registry.instantiate("generators", "const", params)
    assert (type(gen), gen.name, gen.params.level) == (cls, "const", 0.3)
    assert registry.instantiate("generators", "const", None).params == cls.Params()  # None: the defaults
    with pytest.raises(TypeError, match="takes ConstParams params, got dict"):
        registry.instantiate("generators", "const", {"level": 0.3})

    calls: list[tuple[str, str, Any]] = []
    real = registry.instantiate

    def spy(kind: str, name: str, parsed: Any) -> Plugin:
        calls.append((kind, name, parsed))
        return real(kind, name, parsed)

    monkeypatch.setattr(registry, "instantiate", spy)
    spec: PluginSpec[Generator] = PluginSpec("generators", "label", "const", params)
    built = spec.build()
    assert_type(built, Generator)
    created = registry.create("generators", "const", {"level": 0.3})
    assert calls == [("generators", "const", params), ("generators", "const", params)]
    assert built.config() == created.config() == {"plugin": "const", "version": "1", "params": {"level": 0.3,
                                                                                                  "smooth": False}}
