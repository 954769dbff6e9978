"""Plugin discovery through Python entry points.

Groups: ``benchgen.generators``, ``benchgen.metrics``, ``benchgen.preprocessors``,
``benchgen.datasets``, ``benchgen.features``. The core never imports a plugin by name: built-ins are
registered by this project's own entry points, exactly like a third party's.

The entry-point scan is cached (``refresh()`` rescans); classes are imported lazily on first use, and
listing imports nothing (docstrings are read from source, see :mod:`benchgen.plugin_source`). A plugin
that fails to import is listed as broken with its error and traceback and breaks nothing else; an
unknown name suggests near names.

Name collisions: every entry can be reached by its qualified name ``DIST:NAME`` (the distribution's
name, normalised like ``packaging.utils.canonicalize_name``; either spelling is accepted). When a
third-party distribution registers a name that a built-in (distribution ``benchgen``) also has, the
built-in keeps the plain name, the other is *shadowed*: still listed and usable by its qualified name,
and using the plain name warns once per process. When two third-party distributions share a name (no
built-in), the plain name is an error naming both; their qualified names still work.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import re
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from benchgen import notices, plugin_source
from benchgen.errors import PluginError
from benchgen.params import parse_params

if TYPE_CHECKING:  # importing benchgen.interfaces imports torch: not needed to scan or list
    from benchgen.interfaces import DatasetSource, FeatureExtractor, Generator, Metric, Plugin, Preprocessor

GROUP_PREFIX = "benchgen."
BUILTIN = "benchgen"  # the distribution whose plugins keep their plain names in a collision
# The plugin kinds, in listing order (the same keys as benchgen.interfaces.KINDS, which maps them to base
# classes; kept here so that scanning and listing do not import torch).
KIND_NAMES: tuple[str, ...] = ("generators", "metrics", "preprocessors", "datasets", "features")
Kind = Literal["generators", "metrics", "preprocessors", "datasets", "features"]


class ShadowedPluginWarning(UserWarning):
    """A built-in plugin's plain name is also registered by another distribution (the built-in is used)."""


def canonical_dist(name: str) -> str:
    """A distribution name normalised like ``packaging.utils.canonicalize_name``: ``Other_Dist`` -> ``other-dist``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Entry:
    """One registered entry point. `ref` is the name to use for it: the plain entry-point name, or
    the qualified ``dist:name`` when another entry owns the plain name (shadowed) or shares it (conflict)."""

    kind: str
    name: str  # the entry-point name
    value: str  # "module:attr"
    distribution: str
    dist_version: str
    entry_point: Any = field(repr=False, default=None)
    ref: str = ""
    shadowed_by: str | None = None  # the distribution that keeps the plain name (the built-in)
    conflict: bool = False  # another third-party distribution registers the same name, and no built-in does
    also: list[str] = field(default_factory=list)  # the other distributions registering the name, "dist version"
    cls: type[Plugin] | None = field(default=None, repr=False)
    error: str | None = None  # set when loading failed
    details: str | None = field(default=None, repr=False)  # the full traceback of that failure

    @property
    def qualified(self) -> str:
        return f"{canonical_dist(self.distribution)}:{self.name}"

    @property
    def builtin(self) -> bool:
        return canonical_dist(self.distribution) == BUILTIN

    @property
    def status(self) -> str:
        if self.error:
            return "broken"
        if self.conflict:
            return "conflict"
        if self.shadowed_by:
            return "shadowed"
        return "loaded" if self.cls else "available"

    @property
    def note(self) -> str | None:
        """Why the entry is shadowed or in conflict (shown by `benchgen list`), else None."""
        if self.shadowed_by:
            return (f"the built-in '{self.name}' ({self.shadowed_by}) keeps the plain name; "
                    f"this one is '{self.ref}'")
        if self.conflict:
            return (f"'{self.name}' is also registered by {', '.join(self.also)}: the plain name is ambiguous, "
                    f"use '{self.ref}'")
        return None

    def source(self) -> plugin_source.SourceInfo:
        """Docstring and literal version read from the plugin's source file, without importing it."""
        ep = self.entry_point
        module, _, attr = self.value.partition(":")
        return plugin_source.class_info(getattr(ep, "module", module.strip()),
                                        getattr(ep, "attr", attr.strip() or None))


@dataclass
class _Table:
    refs: dict[str, Entry] = field(default_factory=dict)  # every usable name -> its entry
    groups: dict[str, list[Entry]] = field(default_factory=dict)  # entry-point name -> every entry with it


_cache: dict[str, _Table] | None = None
_warned: set[str] = set()  # warnings already emitted in this process
_emitted: list[str] = []


def _dist_of(ep: Any) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"] or "?", dist.version or "?"


def installed_entry_points() -> list[md.EntryPoint]:
    """Every installed entry point in the benchgen groups."""
    return [ep for kind in KIND_NAMES for ep in md.entry_points(group=GROUP_PREFIX + kind)]


def scan(entry_points: list[Any] | None = None) -> dict[str, _Table]:
    """Build the registry from entry points (the installed ones unless a list is given, for tests)."""
    eps = entry_points if entry_points is not None else installed_entry_points()
    tables: dict[str, _Table] = {kind: _Table() for kind in KIND_NAMES}
    seen: set[tuple[str, str, str]] = set()
    for ep in eps:
        kind = ep.group[len(GROUP_PREFIX):]
        if kind not in tables:
            continue
        dist, ver = _dist_of(ep)
        # The same distribution seen twice on sys.path (editable + copy): the first, as import would.
        # Entry points without a distribution (constructed ones) are told apart by name only.
        key = (kind, ep.name, canonical_dist(dist))
        if key in seen:
            continue
        seen.add(key)
        tables[kind].groups.setdefault(ep.name, []).append(Entry(kind, ep.name, ep.value, dist, ver, ep))
    for table in tables.values():
        for name, group in table.groups.items():
            owner = next((e for e in group if e.builtin), group[0] if len(group) == 1 else None)
            for e in group:
                e.also = [f"{o.distribution} {o.dist_version}" for o in group if o is not e]
                if e is owner:
                    e.ref = name
                else:
                    e.ref = e.qualified
                    e.shadowed_by = f"{owner.distribution} {owner.dist_version}" if owner else None
                    e.conflict = owner is None
                table.refs[e.ref] = e
    return tables


def refresh(entry_points: list[Any] | None = None) -> None:
    """Rescan entry points (after installing a plugin, or to inject test entry points)."""
    global _cache
    plugin_source.clear_cache()
    _cache = scan(entry_points)


def _table(kind: str) -> _Table:
    if kind not in KIND_NAMES:
        raise PluginError(f"unknown plugin kind '{kind}'; choose one of {', '.join(KIND_NAMES)}")
    if _cache is None:
        refresh()
    assert _cache is not None
    return _cache[kind]


def entries(kind: str) -> dict[str, Entry]:
    """Every entry of `kind` by the name to use for it (plain, or qualified when shadowed or in conflict)."""
    return _table(kind).refs


def all_entries() -> list[Entry]:
    return [e for kind in KIND_NAMES for e in entries(kind).values()]


def names(kind: str) -> list[str]:
    """Every usable name of `kind`: plain names and the qualified names of shadowed or conflicting entries."""
    return sorted(entries(kind))


# ----------------------------------------------------------------------------------------- warnings
def warnings() -> list[str]:
    """The registry warnings emitted so far in this process (each once), e.g. a shadowed plugin name."""
    return list(_emitted)


def _warn(message: str) -> None:
    if message in _warned:
        return
    _warned.add(message)
    _emitted.append(message)
    notices.warn(message, ShadowedPluginWarning, stacklevel=5)


# --------------------------------------------------------------------------------------- resolving
def _find(table: _Table, name: str) -> list[Entry]:
    """The entries `name` refers to: one for a usable plain or qualified name, several for an ambiguous
    plain name, none for an unknown one."""
    if name in table.refs:
        return [table.refs[name]]
    dist, sep, plain = name.partition(":")
    if sep:
        want = canonical_dist(dist.strip())
        return [e for e in table.groups.get(plain, []) if canonical_dist(e.distribution) == want]
    return list(table.groups.get(name, []))


def _near(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        f"available: {', '.join(candidates) or '(none installed)'}"


def _entry(kind: str, name: str) -> Entry:
    """The entry a plain or qualified name refers to; warns when a plain name shadows another entry."""
    table = _table(kind)
    found = _find(table, name)
    if len(found) == 1:
        entry = found[0]
        if name == entry.name == entry.ref:  # the plain name of a built-in that shadows others
            for other in table.groups[entry.name]:
                if other is not entry:
                    _warn(f"{kind[:-1]} '{entry.name}' is also registered by {other.distribution} "
                          f"{other.dist_version}; the built-in is used, the other is '{other.ref}'")
        return entry
    if found:  # several third-party distributions and no built-in: the plain name is ambiguous
        raise PluginError(f"{kind[:-1]} plugin '{name}' is registered by several distributions: "
                          f"{', '.join(f'{e.distribution} {e.dist_version}' for e in found)}",
                          f"use a qualified name: {' or '.join(repr(e.ref) for e in found)} "
                          "(or uninstall all but one)")
    dist, sep, plain = name.partition(":")
    if sep and plain in table.groups:
        owners = ", ".join(f"{e.distribution} as {e.ref!r}" for e in table.groups[plain])
        raise PluginError(f"unknown {kind[:-1]} plugin '{name}': no distribution '{dist}' registers '{plain}'",
                          f"'{plain}' is registered by {owners}")
    raise PluginError(f"unknown {kind[:-1]} plugin '{name}'", _near(name, sorted(table.refs)))


def group(kind: str, name: str) -> list[Entry]:
    """Every entry registered under the entry-point name `name` (more than one after a collision)."""
    return list(_table(kind).groups.get(name, []))


def matching(name: str, kind: str | None = None) -> list[Entry]:
    """The entries a plain or qualified name refers to, in one kind or in all (every entry of an ambiguous
    plain name); imports and warns nothing. None found: a PluginError suggesting near names."""
    kinds = [kind] if kind else list(KIND_NAMES)
    found = [e for k in kinds for e in _find(_table(k), name)]
    if found:
        return found
    if kind:
        _entry(kind, name)  # raises the kind's precise error
    raise PluginError(f"no plugin named '{name}'", _near(name, sorted({r for k in kinds for r in _table(k).refs})))


def resolve(kind: str, name: str) -> str:
    """The name to record for `name` (an error if it is unknown or ambiguous): a plain name as given, a
    qualified one with its distribution normalised (``Other_Dist:ddpm`` -> ``other-dist:ddpm``)."""
    entry = _entry(kind, name)
    dist, sep, plain = name.partition(":")
    if name in _table(kind).refs or not sep:
        return name
    return f"{canonical_dist(dist.strip())}:{entry.name}"


def entry(kind: str, name: str) -> Entry:
    """The entry for a plain or qualified name (nothing is imported)."""
    return _entry(kind, name)


def load_entry(entry: Entry) -> type[Plugin]:
    """Import the class of an entry from `entries()` / `matching()` (no shadowing warning: the caller
    chose the entry itself)."""
    return _load(entry, entry.ref)


def _load(entry: Entry, used_as: str) -> type[Plugin]:
    if entry.cls is None and entry.error is None:
        from benchgen.interfaces import KINDS

        try:
            cls = entry.entry_point.load()
            base = KINDS[entry.kind]
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise TypeError(f"{entry.value} is not a subclass of benchgen.interfaces.{base.__name__}")
            entry.cls = cls
        except Exception as exc:  # a third party's import error must not crash the tool
            entry.error = f"{type(exc).__name__}: {exc}"
            entry.details = traceback.format_exc()
    if entry.error:
        raise PluginError(f"{entry.kind[:-1]} plugin '{used_as}' from {entry.distribution} is broken: {entry.error}",
                          "`benchgen --debug ...` shows the plugin's traceback", details=entry.details)
    assert entry.cls is not None
    return entry.cls


@overload
def load_class(kind: Literal["generators"], name: str) -> type[Generator]: ...
@overload
def load_class(kind: Literal["metrics"], name: str) -> type[Metric]: ...
@overload
def load_class(kind: Literal["preprocessors"], name: str) -> type[Preprocessor]: ...
@overload
def load_class(kind: Literal["datasets"], name: str) -> type[DatasetSource]: ...
@overload
def load_class(kind: Literal["features"], name: str) -> type[FeatureExtractor]: ...
@overload
def load_class(kind: str, name: str) -> type[Plugin]: ...
def load_class(kind: str, name: str) -> type[Plugin]:
    """Import a plugin's class (once); a failure is a PluginError naming the plugin and distribution,
    with the import traceback as its `details`."""
    return _load(_entry(kind, name), name)


@overload
def instantiate(kind: Literal["generators"], name: str, params: Any) -> Generator: ...
@overload
def instantiate(kind: Literal["metrics"], name: str, params: Any) -> Metric: ...
@overload
def instantiate(kind: Literal["preprocessors"], name: str, params: Any) -> Preprocessor: ...
@overload
def instantiate(kind: Literal["datasets"], name: str, params: Any) -> DatasetSource: ...
@overload
def instantiate(kind: Literal["features"], name: str, params: Any) -> FeatureExtractor: ...
@overload
def instantiate(kind: str, name: str, params: Any) -> Plugin: ...
def instantiate(kind: str, name: str, params: Any) -> Plugin:
    """The one place a plugin is constructed: ``cls(params)`` with already parsed params (an instance of
    the class's ``Params``, or None for the defaults), named `name` as used (plain or qualified)."""
    cls = load_class(kind, name)
    if params is not None and not isinstance(params, cls.Params):
        raise TypeError(f"{kind[:-1]} '{name}' takes {cls.Params.__name__} params, got {type(params).__name__}")
    obj = cls(params)
    obj.name = name
    return obj


@overload
def create(kind: Literal["generators"], name: str, params: dict[str, Any] | None = None,
           where: str | None = None) -> Generator: ...
@overload
def create(kind: Literal["metrics"], name: str, params: dict[str, Any] | None = None,
           where: str | None = None) -> Metric: ...
@overload
def create(kind: Literal["preprocessors"], name: str, params: dict[str, Any] | None = None,
           where: str | None = None) -> Preprocessor: ...
@overload
def create(kind: Literal["datasets"], name: str, params: dict[str, Any] | None = None,
           where: str | None = None) -> DatasetSource: ...
@overload
def create(kind: Literal["features"], name: str, params: dict[str, Any] | None = None,
           where: str | None = None) -> FeatureExtractor: ...
@overload
def create(kind: str, name: str, params: dict[str, Any] | None = None, where: str | None = None) -> Plugin: ...
def create(kind: str, name: str, params: dict[str, Any] | None = None, where: str | None = None) -> Plugin:
    """Instantiate a plugin from a TOML-like table of params, validated strictly; `where` is the key
    path for errors. The instance is named as recorded (see `resolve`)."""
    ref = resolve(kind, name)
    cls = load_class(kind, ref)
    parsed = parse_params(cls.Params, params, where or f"{kind[:-1]} '{ref}' params")
    return instantiate(kind, ref, parsed)


def check_all() -> list[Entry]:
    """Import every plugin; return all entries with their status (for `benchgen list --check`)."""
    for e in all_entries():
        try:
            load_entry(e)
        except PluginError:
            pass
    return all_entries()
