"""The import graph of benchgen and its plugins, read from the source (every import statement: module level,
inside functions and under TYPE_CHECKING alike), for the architecture rules in docs/architecture.md."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parents[2]
PACKAGES = {"benchgen": ROOT / "benchgen", **{p.name: p for p in sorted((ROOT / "plugins").glob("benchgen_*"))}}


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # modules of ours it imports
    private: list[tuple[str, str]] = field(default_factory=list)  # (module, _name) taken from another module


def module_name(path: Path, package: str, root: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Module]:
    found = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            name = module_name(path, package, root)
            found[name] = Module(name, path)
    for mod in found.values():
        is_pkg = mod.path.name == "__init__.py"
        for node in ast.walk(ast.parse(mod.path.read_text(), str(mod.path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    _add(mod, found, alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(mod.name, is_pkg, node.module, node.level)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in found:  # `from pkg import module`
                        _add(mod, found, target)
                    else:
                        _add(mod, found, base)
                        if alias.name.startswith("_") and not alias.name.startswith("__") and base != mod.name:
                            mod.private.append((base, alias.name))
    return found


def _absolute(name: str, is_pkg: bool, module: str | None, level: int) -> str:
    if not level:
        return module or ""
    parts = name.split(".") if is_pkg else name.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def _add(mod: Module, found: dict[str, Module], target: str) -> None:
    while target and target not in found:  # `import a.b.c` of a package path: the deepest module of ours
        target = target.rpartition(".")[0]
    if target and target != mod.name:
        mod.imports.add(target)


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

    import sys
    sys.setrecursionlimit(10000)
    for v in sorted(found):
        if v not in index:
            visit(v)
    return out
