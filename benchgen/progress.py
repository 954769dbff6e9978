"""Progress for long work. Library code receives a plain callback,
``progress(description, completed, total, **fields)`` (:data:`ProgressFn`), whose default is the public
no-op :func:`no_progress`, so library use stays silent and scripts can pass their own; the CLI passes a
:class:`ProgressReporter` (rich bars)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console

# progress(description, completed, total, **fields): what every long-running library function accepts.
ProgressFn = Callable[..., None]


def no_progress(*_args: Any, **_kwargs: Any) -> None:
    """The default progress callback: does nothing."""
    return None


class ProgressReporter:
    """Progress of long work, for people and for log files.

    On a terminal: one rich bar per description, with extra fields (loss=..., it_s=...) after it; a bar
    whose work is done collapses into one line. When stderr is not a terminal (nohup, SLURM, a pipe):
    plain lines — stage, i/n, elapsed, ETA and the fields — at most every `interval_s` per stage, plus
    its first and last step. `log_file`, when given, receives those plain lines (and every `log` message)
    in either case, so a run leaves a readable record of its progress.
    """

    def __init__(self, console: Console | None = None, enabled: bool = True, interval_s: float = 10.0,
                 log_file: str | Path | None = None):
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
        self.console = console or Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.interval_s = interval_s
        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=self.console, transient=False, disable=not self.live)
        self._tasks: dict[str, Any] = {}
        self._stages: dict[str, _Stage] = {}
        self._log = None
        if log_file is not None:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_file, "a", encoding="utf-8", buffering=1)  # line-buffered: readable while running
        self.log_file = log_file

    def __enter__(self) -> "ProgressReporter":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __call__(self, description: str, completed: float, total: float | None = None, **fields: Any) -> None:
        info = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        now = time.monotonic()
        stage = self._stages.get(description)
        if stage is None or stage.done:  # a description seen again after it finished is new work
            stage = self._stages[description] = _Stage(now)
        finished = total is not None and completed >= total
        due = stage.last is None or finished or now - stage.last >= self.interval_s
        if due:
            stage.last = now
            line = _plain_line(description, completed, total, now - stage.start, info)
            if self._log is not None:
                self._log.write(f"{_stamp()} {line}\n")
            if self.enabled and not self.live:
                self.console.print(line, markup=False, highlight=False)
        if self.live:
            if description not in self._tasks:
                self._tasks[description] = self._progress.add_task(description, total=total, info=info)
            task = self._tasks[description]
            self._progress.update(task, completed=completed, total=total, info=info)
            if finished:  # collapse the finished bar into one line; nothing keeps spinning
                self._progress.remove_task(task)
                del self._tasks[description]
                self._progress.console.print(f"[green]✓[/] {escape(line)}", highlight=False)
        stage.done = finished

    def log(self, message: str) -> None:
        """A message (rich markup) for the person, and as plain text for the log file."""
        if self._log is not None:
            from rich.text import Text

            self._log.write(f"{_stamp()} {Text.from_markup(message).plain}\n")
        if self.enabled:
            self._progress.console.print(message, highlight=False)


class _Stage:
    def __init__(self, start: float):
        self.start = start
        self.last: float | None = None
        self.done = False


def escape(text: str) -> str:
    from rich.markup import escape as _escape

    return _escape(text)


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _plain_line(description: str, completed: float, total: float | None, elapsed: float, info: str) -> str:
    """``ddpm: training 240/1200 (20%) elapsed 1:12 eta 4:48 loss=0.061``"""
    count = f"{completed:g}/{total:g}" if total else f"{completed:g}"
    pct = f" ({100 * completed / total:.0f}%)" if total else ""
    eta = ""
    if total and 0 < completed < total:
        eta = f" eta {_duration(elapsed * (total - completed) / completed)}"
    return f"{description} {count}{pct} elapsed {_duration(elapsed)}{eta}" + (f" {info}" if info else "")
