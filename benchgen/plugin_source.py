"""A plugin class's docstring (and literal ``version``) read from its source file, without importing it.

`benchgen list` must not import plugin modules: the DDPM alone pulls in MONAI and torch (seconds), and a
broken plugin's import may have side effects. So the module's file is located by hand —
``importlib.util.find_spec`` of the *top-level* package only (``find_spec("pkg.mod")`` would import
``pkg``), then a walk through that package's ``submodule_search_locations`` — and the class is read with
:mod:`ast`. A class re-exported by ``from x import Cls`` (or ``Alias = Cls``) is followed a few steps.
Whatever cannot be followed (a compiled module, a class built at run time) gives an empty docstring,
never an error.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_HOPS = 4  # re-export chains followed (pkg/__init__.py -> pkg/mod.py is one hop)


@dataclass(frozen=True)
class SourceInfo:
    """What the source says about a plugin class: its docstring ("" if unknown) and literal version."""

    doc: str = ""
    version: str | None = None  # only a string literal assigned in the class body
    path: Path | None = None  # the file the class is defined in


def _top_level_spec(name: str) -> tuple[str | None, list[str]]:
    """(origin file, submodule search locations) of a top-level module, importing nothing."""
    mod = sys.modules.get(name)
    spec = getattr(mod, "__spec__", None) if mod is not None else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)  # top-level: a finder lookup, no import
        except (ImportError, ValueError):
            return None, []
    if spec is None:
        return None, []
    return spec.origin, list(spec.submodule_search_locations or [])


def module_file(module: str) -> Path | None:
    """The ``.py`` file of `module` (``pkg/mod.py`` or ``pkg/mod/__init__.py``) without importing anything."""
    top, *rest = module.split(".")
    origin, locations = _top_level_spec(top)
    if not rest:
        return Path(origin) if origin and origin.endswith(".py") and Path(origin).is_file() else None
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        found: list[str] = []
        for loc in locations:
            folder = Path(loc)
            if last and (folder / f"{part}.py").is_file():
                return folder / f"{part}.py"
            if (folder / part).is_dir():
                if last:
                    init = folder / part / "__init__.py"
                    return init if init.is_file() else None
                found.append(str(folder / part))
        if not found:
            return None
        locations = found
    return None


@functools.lru_cache(maxsize=256)
def _parse(path: Path) -> ast.Module | None:  # several plugins often share one module: parse it once
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None


def _import_base(module: str, path: Path, node: ast.ImportFrom) -> str | None:
    """The absolute module an ``ImportFrom`` in `module` (file `path`) imports from."""
    if node.level == 0:
        return node.module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    if node.module:
        base = f"{base}.{node.module}" if base else node.module
    return base or None


def _class_version(cls: ast.ClassDef) -> str | None:
    version = None
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "version" for t in targets):
            version = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
    return version


def _lookup(module: str, attr: str, hops: int) -> SourceInfo:
    path = module_file(module)
    tree = _parse(path) if path else None
    if path is None or tree is None:
        return SourceInfo()
    first, _, rest = attr.partition(".")
    found: ast.ClassDef | tuple[str, str] | None = None  # a class here, or (module, attr) to follow
    for stmt in tree.body:  # the last binding of the name wins, as at run time
        if isinstance(stmt, ast.ClassDef) and stmt.name == first:
            found = stmt
        elif isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if (alias.asname or alias.name) == first:
                    base = _import_base(module, path, stmt)
                    found = (base, alias.name) if base else None
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name):
            if any(isinstance(t, ast.Name) and t.id == first for t in stmt.targets):
                found = (module, stmt.value.id)
    if isinstance(found, tuple):
        if hops >= MAX_HOPS:
            return SourceInfo()
        target_module, name = found
        return _lookup(target_module, f"{name}.{rest}" if rest else name, hops + 1)
    if found is None:
        return SourceInfo()
    cls: ast.ClassDef = found
    for part in rest.split(".") if rest else []:  # a nested class: Outer.Inner
        inner = [s for s in cls.body if isinstance(s, ast.ClassDef) and s.name == part]
        if not inner:
            return SourceInfo()
        cls = inner[-1]
    return SourceInfo(ast.get_docstring(cls) or "", _class_version(cls), path)


@functools.lru_cache(maxsize=512)
def class_info(module: str, attr: str | None) -> SourceInfo:
    """Docstring and literal version of class `attr` in `module`, read from source (imports nothing)."""
    if not attr:
        return SourceInfo()
    return _lookup(module, attr, 0)


def clear_cache() -> None:
    """Forget parsed sources (the registry calls this on every rescan)."""
    class_info.cache_clear()
    _parse.cache_clear()
