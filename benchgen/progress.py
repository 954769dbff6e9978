"""Progress for long work. Library code receives a plain callback,
``progress(description, completed, total, **fields)`` (:data:`ProgressFn`), whose default is the public
no-op :func:`no_progress`, so library use stays silent and scripts can pass their own; the CLI passes a
:class:`ProgressReporter` (rich bars)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console

# progress(description, completed, total, **fields): what every long-running library function accepts.
ProgressFn = Callable[..., None]


def no_progress(*_args: Any, **_kwargs: Any) -> None:
    """The default progress callback: does nothing."""
    return None


class ProgressReporter:
    """One rich task per description; extra fields (loss=..., it_s=...) are shown after the bar."""

    def __init__(self, console: Console | None = None, enabled: bool = True):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.enabled = enabled
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=console or Console(stderr=True), transient=False, disable=not enabled)
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> "ProgressReporter":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, description: str, completed: float, total: float | None = None, **fields: Any) -> None:
        if not self.enabled:
            return
        info = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        if description not in self._tasks:
            self._tasks[description] = self._progress.add_task(description, total=total, info=info)
        self._progress.update(self._tasks[description], completed=completed, total=total, info=info)

    def log(self, message: str) -> None:
        if self.enabled:
            self._progress.console.print(message, highlight=False)
