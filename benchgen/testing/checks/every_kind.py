"""The checks every plugin kind starts with: it imports and it builds from its tiny params."""

from __future__ import annotations

import dataclasses

from benchgen import registry
from benchgen.errors import BenchgenError, ConfigError
from benchgen.interfaces import KINDS
from benchgen.params import params_to_dict
from benchgen.testing.checks.shared import dataset_params
from benchgen.testing.core import Checker, ContractFailure, contract_check


@contract_check(tuple(KINDS), "import", requires=())
def plugin_imports(h: Checker) -> str:
    """The class imports (through its entry point) and subclasses the kind's base class in
    `benchgen.interfaces`; a broken or twice-registered plugin fails here with the registry's message."""
    try:
        cls = h.load_class()
    except BenchgenError as exc:  # the registry keeps a broken plugin's import traceback as the error's details
        raise ContractFailure(h.current or "import", f"cannot be loaded: {exc}",
                              traceback=exc.debug_details) from None
    base = KINDS[h.kind]
    h.require(isinstance(cls, type) and issubclass(cls, base),
              f"{cls!r} is not a subclass of benchgen.interfaces.{base.__name__}")
    h.state["cls"] = cls
    where = f"{cls.__module__}.{cls.__qualname__}"
    entry = registry.entries(h.kind).get(h.name) if h.registered else None
    return f"{where} ({entry.distribution} {entry.dist_version})" if entry else where


@contract_check(tuple(KINDS), "build", requires=("import",))
def plugin_builds(h: Checker) -> str:
    """The plugin builds from its `tiny_params` (updated by any params given): `tiny_params` is a dict and
    its `Params` dataclass accepts them."""
    tiny = h.cls.tiny_params
    h.require(isinstance(tiny, dict), f"tiny_params is {type(tiny).__name__}, not a dict")
    h.require(dataclasses.is_dataclass(h.cls.Params), f"Params ({h.cls.Params!r}) is not a dataclass")
    params = {**tiny, **h.overrides}
    if h.kind == "datasets":
        params = dataset_params(h, params)
    h.state["params"] = params
    try:
        h.state["plugin"] = h.call("building it", h.build)
    except ContractFailure as exc:
        if isinstance(exc.__cause__, ConfigError):  # a one-line reason: no traceback to show
            raise h.fail(f"params {params} are rejected: {exc.__cause__}") from None
        raise
    return f"params {params_to_dict(h.plugin.params)}"
