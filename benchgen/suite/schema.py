"""The key/type schema of a suite TOML and its one checker.

A schema is {key: (type, required)} or {key: nested schema}; "*" matches any label (generators, metrics).
Value types are checked by :func:`benchgen.params.coerce`, the checker plugin params go through too, so a
suite key and a plugin parameter of the same type fail with the same words.
"""

from __future__ import annotations

from typing import Any

from benchgen.errors import ConfigError
from benchgen.params import coerce, unknown_key_error

PLUGIN_TABLE = {"plugin": (str, False), "params": (dict, False), "description": (str, False)}
SCHEMA: dict[str, Any] = {
    "suite": {"name": (str, True), "version": (str, True), "description": (str, False),
              "primary_metric": (str, False)},
    "dataset": {"source": (str, True), "params": (dict, False), "shape": (list, True),
                "split": {"train": (float, True), "val": (float, False), "test": (float, True),
                          "stratify": (str, False)},
                "split_seed": (int, False), "first_volume": (bool, False), "jobs": (int, False)},
    "preprocessing": {"steps": (list, False)},
    "generators": {"*": {**PLUGIN_TABLE, "seed": (int, False), "per_condition": (bool, False), "like": (str, False),
                         "parent": (str, False), "fits": (int, False),
                         "pretrain": {**PLUGIN_TABLE, "seed": (int, False), "dataset": (dict, False),
                                      "like": (str, False)}}},
    "evaluation": {"n_samples": (int, True), "seeds": (list, True), "bootstrap": (int, False), "draws": (int, False),
                   "device": (str, False), "protocol": (str, False), "conditions": (dict, False),
                   "fits": (int, False), "baseline": (str, False),
                   "metrics": {"*": {**PLUGIN_TABLE, "stratify": (str, False)}}},
    "profiles": {"*": (dict, False)},
    "executor": (dict, False),  # cluster resources, checked by benchgen.cluster.resources
}
REQUIRED_TABLES = ("suite", "dataset", "generators", "evaluation")
PROFILE_KEYS = ("description", "like")  # a profile's own keys beside its partial suite
STRATA = ("condition", "sex")  # metadata keys a metric can be stratified by: what condition tables carry


def check_table(table: Any, schema: dict[str, Any], where: str, partial: bool = False) -> None:
    """Check keys and value types of `table` against `schema`; `partial` skips required keys (profiles)."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table, got {table!r}")
    for key, value in table.items():
        spec = schema.get(key, schema.get("*"))
        if spec is None:
            raise unknown_key_error(key, [k for k in schema if k != "*"], f"[{where}]" if where else "top level")
        path = f"{where}.{key}" if where else key
        if isinstance(spec, dict):
            check_table(value, spec, path, partial)
        else:
            coerce(value, spec[0], path)
    if not partial:
        for key, spec in schema.items():
            if key != "*" and isinstance(spec, tuple) and spec[1] and key not in table:
                raise ConfigError(f"[{where}]: missing required key '{key}'")

