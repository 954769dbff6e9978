"""Tiny suites for tests, written as TOML text from one template.

``tiny_suite("name", generators=[...], metrics=[...], dataset={...}, evaluation={...})`` is the phantom template
(8×12×8 voxels, 24 subjects, 8 mm voxels, crop-pad → resize → scale-01, 4 samples, seed 0, no bootstrap) with
each keyword merged over it: a keyword names a top-level table, each of its keys replaces the template's key
whole, and ``None`` drops a key (or, as the keyword's value, the whole table). ``generators`` and ``metrics``
(the ``[evaluation.metrics]`` table) replace the template's whole; a list of names is a table of empty tables.
``CONDITIONS`` is the two-condition template (12 healthy and 12 ftd-like subjects, split stratified).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from copy import deepcopy
from typing import Any

PHANTOM: dict[str, Any] = {
    "suite": {"name": "tiny", "version": "1"},
    "dataset": {"source": "phantom", "shape": [8, 12, 8], "split": {"train": 0.5, "val": 0.25, "test": 0.25},
                "params": {"n_subjects": 24, "voxel_mm": 8.0}},
    "preprocessing": {"steps": ["crop-pad", "resize", "scale-01"]},
    "generators": {"gaussian": {}},
    "evaluation": {"n_samples": 4, "seeds": [0], "bootstrap": 0, "metrics": {"mmd": {}}},
}

CONDITIONS: dict[str, Any] = {
    **PHANTOM,
    "dataset": {"source": "phantom", "shape": [8, 10, 8],
                "split": {"train": 0.5, "val": 0.25, "test": 0.25, "stratify": "condition"},
                "params": {"voxel_mm": 8.0, "conditions": {"healthy": 12, "ftd-like": 12}}},
}

# the smallest UNet MONAI builds at 8×12×8 (the ddpm and ldm plugins' network keys)
TINY_UNET: dict[str, Any] = {"channels": [8, 16], "attention_levels": [False, True], "num_head_channels": [0, 16],
                             "num_res_blocks": 1, "norm_num_groups": 8}

INLINE = {"split", "params", "conditions"}  # written `key = { ... }` on one line, as a person writes them
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def tiny_suite(name: str | None = None, *, template: dict[str, Any] = PHANTOM,
               generators: list[str] | dict[str, Any] | None = None, metrics: list[str] | dict[str, Any] | None = None,
               **tables: dict[str, Any] | None) -> str:
    """The TOML text of `template` with `name`, `generators`, `metrics` and `tables` put over it (module doc)."""
    doc = deepcopy(template)
    if name is not None:
        doc["suite"]["name"] = name
    for table, changes in tables.items():
        if changes is None:
            doc.pop(table, None)
            continue
        merged = doc.setdefault(table, {})
        for key, value in changes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = deepcopy(value)
    if generators is not None:
        doc["generators"] = _named_tables(generators)
    if metrics is not None:
        evaluation = doc.setdefault("evaluation", {})
        evaluation.pop("metrics", None)  # last: a metric table follows the evaluation keys
        evaluation["metrics"] = _named_tables(metrics)
    return to_toml(doc)


def _named_tables(value: list[str] | dict[str, Any]) -> dict[str, Any]:
    return {name: {} for name in value} if isinstance(value, list) else deepcopy(value)


def to_toml(doc: dict[str, Any]) -> str:
    """TOML text of `doc` (tables, inline tables, arrays, strings, numbers, booleans), keys in order; a blank
    line before each top-level table."""
    blocks = []
    for key, table in doc.items():
        lines: list[str] = []
        _table(table, [key], lines)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, dict) or k in INLINE}
    nested = {k: v for k, v in table.items() if k not in plain}
    if plain or not nested:  # an empty table keeps its header: `[generators.holdout]`
        lines.append(f"[{'.'.join(_key(p) for p in path)}]")
    lines += [f"{_key(k)} = {_value(v)}" for k, v in plain.items()]
    for key, sub in nested.items():
        _table(sub, [*path, key], lines)


def _key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML for {type(value).__name__}: {value!r}")


def conditional_suite(n: int = 6, evaluation_toml: str = "") -> str:
    """The two-condition suite of the conditional runner's tests ("cond"): holdout, a gaussian fitted per
    condition and noise, scored by mmd and memorization per condition; `evaluation_toml` adds keys to
    ``[evaluation]`` as TOML text (``"draws = 2"``, ``"conditions = { healthy = 3, als-like = 3 }"``)."""
    stratified = {"stratify": "condition"}
    gaussian = {"per_condition": True, "params": {"rank": 2}}
    return tiny_suite("cond", template=CONDITIONS, suite={"primary_metric": "mmd"},
                      generators={"holdout": {}, "gaussian": gaussian, "noise": {}},
                      evaluation={"n_samples": n, "bootstrap": 5, **tomllib.loads(evaluation_toml)},
                      metrics={"mmd": stratified, "memorization": stratified})
