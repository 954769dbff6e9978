"""Plugin discovery through Python entry points.

Groups: ``benchgen.generators``, ``benchgen.metrics``, ``benchgen.preprocessors``,
``benchgen.datasets``, ``benchgen.features``. The core never imports a plugin by name: built-ins are
registered by this project's own entry points, exactly like a third party's.

The entry-point scan is cached (``refresh()`` rescans); classes are imported lazily on first use.
A plugin that fails to import is listed as broken with its error and breaks nothing else; two
distributions registering one name is an error naming both; an unknown name suggests near names.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import traceback
from dataclasses import dataclass, field
from typing import Any

from benchgen.errors import PluginError
from benchgen.interfaces import KINDS, Plugin
from benchgen.params import parse_params

GROUP_PREFIX = "benchgen."


@dataclass
class Entry:
    kind: str
    name: str
    value: str  # "module:attr"
    distribution: str
    dist_version: str
    entry_point: Any = field(repr=False, default=None)
    also: list[str] = field(default_factory=list)  # other distributions registering the same name
    cls: type[Plugin] | None = field(default=None, repr=False)
    error: str | None = None  # set when loading failed

    @property
    def status(self) -> str:
        if self.also:
            return "conflict"
        return "broken" if self.error else ("loaded" if self.cls else "available")


_cache: dict[str, dict[str, Entry]] | None = None


def _dist_of(ep: Any) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"] or "?", dist.version or "?"


def scan(entry_points: list[Any] | None = None) -> dict[str, dict[str, Entry]]:
    """Build the registry from entry points (the installed ones unless a list is given, for tests)."""
    eps = entry_points if entry_points is not None else [
        ep for kind in KINDS for ep in md.entry_points(group=GROUP_PREFIX + kind)]
    table: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
    seen: set[tuple[str, str, str]] = set()
    for ep in eps:
        kind = ep.group[len(GROUP_PREFIX):]
        if kind not in table:
            continue
        dist, ver = _dist_of(ep)
        if (kind, ep.name, ep.value) in seen:  # the same dist seen twice on sys.path (editable + copy)
            continue
        seen.add((kind, ep.name, ep.value))
        if ep.name in table[kind]:
            table[kind][ep.name].also.append(dist)
            continue
        table[kind][ep.name] = Entry(kind, ep.name, ep.value, dist, ver, ep)
    return table


def refresh(entry_points: list[Any] | None = None) -> None:
    """Rescan entry points (after installing a plugin, or to inject test entry points)."""
    global _cache
    _cache = scan(entry_points)


def entries(kind: str) -> dict[str, Entry]:
    if kind not in KINDS:
        raise PluginError(f"unknown plugin kind '{kind}'; choose one of {', '.join(KINDS)}")
    if _cache is None:
        refresh()
    assert _cache is not None
    return _cache[kind]


def all_entries() -> list[Entry]:
    return [e for kind in KINDS for e in entries(kind).values()]


def names(kind: str) -> list[str]:
    return sorted(entries(kind))


def _entry(kind: str, name: str) -> Entry:
    table = entries(kind)
    if name not in table:
        close = difflib.get_close_matches(name, table, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            f"available: {', '.join(sorted(table)) or '(none installed)'}"
        raise PluginError(f"unknown {kind[:-1]} plugin '{name}'", hint)
    entry = table[name]
    if entry.also:
        raise PluginError(f"{kind[:-1]} plugin '{name}' is registered by several distributions: "
                          f"{', '.join([entry.distribution, *entry.also])}",
                          "uninstall all but one of them")
    return entry


def load_class(kind: str, name: str) -> type[Plugin]:
    """Import a plugin's class (once); a failure is a PluginError naming the plugin and distribution."""
    entry = _entry(kind, name)
    if entry.cls is None and entry.error is None:
        try:
            cls = entry.entry_point.load()
            base = KINDS[kind]
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"{entry.value} is not a subclass of benchgen.interfaces.{base.__name__}")
            entry.cls = cls
        except Exception as exc:  # a third party's import error must not crash the tool
            entry.error = f"{type(exc).__name__}: {exc}"
            entry.traceback = traceback.format_exc()  # type: ignore[attr-defined]
    if entry.error:
        raise PluginError(f"{kind[:-1]} plugin '{name}' from {entry.distribution} is broken: {entry.error}")
    assert entry.cls is not None
    return entry.cls


def create(kind: str, name: str, params: dict[str, Any] | None = None, where: str | None = None) -> Plugin:
    """Instantiate a plugin with strictly validated params; `where` is the key path for errors."""
    cls = load_class(kind, name)
    parsed = parse_params(cls.Params, params, where or f"{kind[:-1]} '{name}' params")
    obj = cls(parsed)
    obj.name = name
    return obj


def check_all() -> list[Entry]:
    """Try to load every plugin; return all entries with their status (for `benchgen list`)."""
    for e in all_entries():
        try:
            load_class(e.kind, e.name)
        except PluginError:
            pass
    return all_entries()
