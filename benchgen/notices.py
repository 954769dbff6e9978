"""Warnings for the user from any stage (a shadowed plugin, a capped job count, an unreadable log): one yellow
line under the CLI (inside :func:`warning_handler`), a Python warning otherwise. A module of its own so the
lowest layers can warn without importing the registry."""

from __future__ import annotations

import contextlib
import warnings as _pywarnings
from collections.abc import Callable, Iterator

_handlers: list[Callable[[str], None]] = []


@contextlib.contextmanager
def warning_handler(handler: Callable[[str], None]) -> Iterator[None]:
    """Inside the block, warnings go to `handler(message)` instead of Python's `warnings`."""
    _handlers.append(handler)
    try:
        yield
    finally:
        _handlers.remove(handler)


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 3) -> None:
    """Tell the user `message`: the innermost handler, else a Python warning of `category`."""
    if _handlers:
        _handlers[-1](message)
    else:
        _pywarnings.warn(message, category, stacklevel=stacklevel)
