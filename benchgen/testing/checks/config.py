"""The check every plugin kind ends with: its config() is JSON that parses back (imported last, so it runs last)."""

from __future__ import annotations

import json

from benchgen.errors import ConfigError
from benchgen.interfaces import KINDS
from benchgen.params import parse_params
from benchgen.testing.checks import (  # noqa: F401  (every other check first: config_json runs last)
    datasets,
    features,
    generators,
    metrics,
    preprocessors,
)
from benchgen.testing.core import Checker, contract_check


@contract_check(tuple(KINDS), "config_json")
def plugin_config_json(h: Checker) -> None:
    """`config()` survives JSON, names the plugin and a version, and its params parse back into equal
    `Params` (it is stored with every score)."""
    try:
        config = json.loads(json.dumps(h.call("config()", h.plugin.config)))
    except (TypeError, ValueError) as exc:
        raise h.fail(f"config() is not JSON: {exc}") from None
    h.require(config.get("plugin") == h.name, f"config()['plugin'] is {config.get('plugin')!r}, not {h.name!r}")
    h.require(config.get("version"), f"config()['version'] is {config.get('version')!r}")
    try:
        parsed = parse_params(type(h.plugin.params), config.get("params"), "config params")
    except ConfigError as exc:
        raise h.fail(f"config()['params'] does not parse back: {exc}") from None
    h.require(parsed == h.plugin.params, f"config()['params'] parses back to {parsed}, not {h.plugin.params}")
