"""Strict, typed plugin parameters.

Every plugin declares its parameters as a dataclass named ``Params``. A TOML table (or CLI
``--param`` values) is checked against it: an unknown key, a wrong type or a value outside a
``Literal`` is a :class:`ConfigError` naming the key path and what is allowed. The parsed dataclass
is the plugin's recorded config (``dataclasses.asdict`` gives the JSON blob stored with a score).
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from benchgen.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For plugins that take no parameters."""


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; return it converted (lists to tuples, int to float).
    The one TOML value checker: plugin params and the suite schema (:mod:`benchgen.suite.schema`) both use it."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not allowed; choose one of {_type_name(tp)}")
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        elems = [a for a in get_args(tp) if a is not Ellipsis]
        if origin is tuple and len(elems) > 1 and Ellipsis not in get_args(tp):
            if len(value) != len(elems):
                raise ConfigError(f"{where}: expected {len(elems)} values, got {len(value)}")
            return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, elems)))
        item = elems[0] if elems else Any
        return tuple(coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is list:  # a bare `list`: a TOML array of anything (the suite schema's shape, seeds, steps)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected an array, got {value!r}")
        return value
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def unknown_key_error(key: str, allowed: typing.Iterable[str], where: str) -> ConfigError:
    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(f"{where}: unknown key '{key}'; {hint}allowed: {', '.join(allowed) or '(none)'}")


def parse_params(params_cls: type, table: dict[str, Any] | None, where: str) -> Any:
    """Build ``params_cls`` from a TOML table, strictly. `where` is the key path used in errors."""
    table = dict(table or {})
    hints = typing.get_type_hints(params_cls)
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    for key in table:
        if key not in fields:
            raise unknown_key_error(key, fields, where)
    values = {}
    for name, f in fields.items():
        if name in table:
            values[name] = coerce(table[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key '{name}' ({_type_name(hints[name])})")
    try:
        obj = params_cls(**values)
    except (ValueError, TypeError) as exc:  # __post_init__ range checks raise ValueError
        raise ConfigError(f"{where}: {exc}") from None
    return obj


OMIT_AT_DEFAULT = "benchgen_omit_at_default"


def added_later(default: Any) -> Any:
    """A Params field added after records were made with the plugin: left out of :func:`params_to_dict`
    while it has its `default`, so every config (and fingerprint, cache key) written before it stays the same."""
    return dataclasses.field(default=default, metadata={OMIT_AT_DEFAULT: True})


def params_to_dict(params: Any) -> dict[str, Any]:
    """JSON-ready dict of a Params dataclass (tuples become lists; `added_later` fields at their default
    left out)."""
    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    omit = {f.name for f in dataclasses.fields(params)
            if f.metadata.get(OMIT_AT_DEFAULT) and getattr(params, f.name) == f.default}
    return {k: plain(v) for k, v in dataclasses.asdict(params).items() if k not in omit}


def describe(params_cls: type) -> list[tuple[str, str, Any]]:
    """(name, type, default) of every parameter, for `benchgen list` and the docs."""
    hints = typing.get_type_hints(params_cls)
    out = []
    for f in dataclasses.fields(params_cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "(required)")
        out.append((f.name, _type_name(hints[f.name]), default))
    return out


def parse_overrides(items: typing.Sequence[str], example: str = "NAME.KEY=VALUE",
                    default_owner: str | None = None) -> dict[str, dict[str, Any]]:
    """Command-line ``--param OWNER.KEY=VALUE`` (or ``KEY=VALUE`` with a `default_owner`) ->
    {owner: {key: value}}. Values are TOML literals (``3``, ``true``, ``[84, 128, 84]``); ``none`` is
    None; anything else is a string. The owner may contain dots' neighbours like ``ms-ssim``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        lhs, sep, raw = item.partition("=")
        owner, dot, key = lhs.rpartition(".")
        if not dot:
            owner, key = default_owner or "", lhs
        if not sep or not owner or not key:
            raise ConfigError(f"--param {item!r}: expected {example}")
        out.setdefault(owner, {})[key] = parse_value(raw)
    return out


def parse_value(raw: str) -> Any:
    """A command-line value: a TOML literal (``3``, ``true``, ``[84, 128, 84]``, ``"x"``); ``none`` or
    ``null`` is None; anything else is the string itself."""
    if raw.strip().lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
