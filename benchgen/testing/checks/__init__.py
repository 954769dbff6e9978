"""The contract checks of every plugin kind, one function per check, registered in order in
:data:`benchgen.testing.core.CHECKS`. Each function's first docstring line says what it demands (it is
shown by ``benchgen check`` and listed in docs/plugins.md).

Shared inputs are built once per :class:`~benchgen.testing.core.Checker` through ``checker.memo``: a
generator is fitted once and sampled once for seed 0, a metric scored once, a step applied once.

To add a check: write ``def my_check(h: Checker) -> str | None`` (raise ``h.fail(...)`` or use
``h.require(...)``; return an optional one-line detail for the PASS line) and register it with
``@contract_check(kind, "my_check", requires=(...))``.

One module per plugin kind; importing this package registers them all, in the order they run.
"""

# config imports every kind's module first, and each of those imports every_kind: the order checks run in
# follows the imports, whatever order they are written in.
from benchgen.testing.checks import config  # noqa: F401  (registers every check)
