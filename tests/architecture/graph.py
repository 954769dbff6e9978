"""The import graph of benchgen and its plugins, read from the source (every import statement: module level,
inside functions and under TYPE_CHECKING alike), for the architecture rules in docs/architecture.md.

A submodule import is an edge to that submodule only, not to the packages above it: a package's
``__init__`` here holds a docstring or lazy attributes, so it adds no loop at run time. Imports by a computed name
(``importlib.import_module``, entry points) are not edges: they are how the CLI loads its commands and the
registry its plugins."""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = {"benchgen": ROOT / "benchgen", **{p.name: p for p in sorted((ROOT / "plugins").glob("benchgen_*"))}}
SOURCE_ROOTS = [ROOT / "benchgen", ROOT / "plugins"]
MAX_LINES = 500


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # modules of ours it imports
    private: list[tuple[str, str]] = field(default_factory=list)  # (module, _name) taken from another module


def module_name(path: Path, package: str, root: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(packages: Mapping[str, Path] | None = None) -> dict[str, Module]:
    """Every module of `packages` ({top-level name: its folder}; benchgen and plugins/benchgen_* by default)."""
    found = {}
    for package, root in (PACKAGES if packages is None else packages).items():
        for path in sorted(root.rglob("*.py")):
            name = module_name(path, package, root)
            found[name] = Module(name, path)
    for mod in found.values():
        _read_imports(mod, found)
    return found


def _read_imports(mod: Module, found: dict[str, Module]) -> None:
    is_pkg = mod.path.name == "__init__.py"
    tree = ast.parse(mod.path.read_text(encoding="utf-8"), str(mod.path))
    bound: dict[str, str] = {}  # local name -> module of ours it is bound to (for `alias._name` uses)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _add(mod, found, alias.name)
                if target and alias.asname:
                    bound[alias.asname] = target
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(mod.name, is_pkg, node.module, node.level)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in found:  # `from pkg import module`
                    _add(mod, found, target)
                    bound[alias.asname or alias.name] = target
                else:
                    _add(mod, found, base)
                    if _is_private(alias.name) and base != mod.name and base in found:
                        mod.private.append((base, alias.name))
    for node in ast.walk(tree):  # `from pkg import module` / `import a.b as m`, then `module._name`
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _is_private(node.attr):
            target = bound.get(node.value.id)
            if target and target != mod.name and (target, node.attr) not in mod.private:
                mod.private.append((target, node.attr))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _absolute(name: str, is_pkg: bool, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    parts = name.split(".") if is_pkg else name.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def _add(mod: Module, found: dict[str, Module], target: str) -> str | None:
    while target and target not in found:  # `import a.b.c` of a package path: the deepest module of ours
        target = target.rpartition(".")[0]
    if target and target != mod.name:
        mod.imports.add(target)
        return target
    return None


def loops(found: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(found[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))  # a deep import chain; restored: other tests rely on the default
    try:
        for v in sorted(found):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return out


def private_imports(found: dict[str, Module]) -> list[str]:
    """`importer: module._name` for every private name one module takes from another of ours."""
    return [f"{m.name}: {base}.{name}" for m in sorted(found.values(), key=lambda m: m.name)
            for base, name in m.private]


def long_files(roots: list[Path] | None = None, limit: int = MAX_LINES) -> list[str]:
    """`path: N lines` for every .py file under `roots` longer than `limit` lines."""
    out = []
    for root in SOURCE_ROOTS if roots is None else roots:
        for path in sorted(root.rglob("*.py")):
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > limit:
                out.append(f"{path.relative_to(root.parent)}: {n} lines")
    return out


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def forbidden_imports(found: dict[str, Module], importers: str, allowed: list[str] | None = None,
                      refused: list[str] | None = None, exempt: tuple[str, ...] = ()) -> list[str]:
    """`importer -> imported` for every module inside package `importers` (but not inside `exempt`) that imports
    a module inside a `refused` package, or (with `allowed`) a module of ours outside every `allowed` package."""
    out = []
    for mod in sorted(found.values(), key=lambda m: m.name):
        if not in_package(mod.name, importers) or any(in_package(mod.name, e) for e in exempt):
            continue
        for target in sorted(mod.imports):
            if refused is not None and any(in_package(target, r) for r in refused) or \
                    allowed is not None and not any(in_package(target, a) for a in allowed):
                out.append(f"{mod.name} -> {target}")
    return out
