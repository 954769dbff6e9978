"""Training telemetry: the loss CSV, the PNG loss curve (the paper's Figure 2), Accelerate trackers,
and a rich progress callback for scripts that have no harness progress bar."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import math
from pathlib import Path
from typing import Any, Iterator

from benchgen.errors import ConfigError

COLUMNS = ("step", "epoch", "loss", "lr", "val_loss", "elapsed_s")

# Accelerate tracker name -> module that must be importable for it
TRACKER_MODULES = {
    "tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",),
    "comet_ml": ("comet_ml",), "aim": ("aim",), "clearml": ("clearml",), "dvclive": ("dvclive",),
    "swanlab": ("swanlab",), "trackio": ("trackio",),
}


def check_trackers(names: tuple[str, ...]) -> list[str] | str | None:
    """Validate `log_with` before training: unknown or not installed is a ConfigError."""
    if not names:
        return None
    if "all" in names:
        return "all"
    for name in names:
        if name not in TRACKER_MODULES:
            raise ConfigError(f"ddpm: log_with has unknown tracker {name!r}",
                              f"choose from {', '.join(sorted(TRACKER_MODULES))} or 'all'")
        if not any(importlib.util.find_spec(m) for m in TRACKER_MODULES[name]):
            raise ConfigError(f"ddpm: log_with asks for {name!r} but it is not installed",
                              f"pip install {TRACKER_MODULES[name][0]}, or remove it from log_with")
    return list(names)


class LossLog:
    """Appends one row per optimizer step (and validation) to ``loss.csv``; resuming drops rows past
    the restored step, so the file always describes one uninterrupted trajectory."""

    def __init__(self, path: Path, resume_step: int, enabled: bool = True):
        self.path = path
        self.enabled = enabled
        self.rows: list[dict[str, Any]] = []
        if path.exists():
            with path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:  # rewrite without the rows the resumed run will redo
            w = csv.DictWriter(f, COLUMNS)
            w.writeheader()
            w.writerows(self.rows)

    def add(self, **row: Any) -> None:
        row = {k: ("" if row.get(k) is None else row[k]) for k in COLUMNS}
        self.rows.append(row)
        if self.enabled:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, COLUMNS).writerow(row)


def read_losses(path: Path) -> list[dict[str, float | None]]:
    with Path(path).open() as f:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in r.items()} for r in csv.DictReader(f)]


def plot_loss_curve(csv_path: Path, png_path: Path, title: str = "DDPM training loss") -> Path:
    """Per-step loss (faint), its running mean and the validation loss, log-scaled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_losses(csv_path)
    train = [(r["step"], r["loss"]) for r in rows if r["loss"] is not None]
    val = [(r["step"], r["val_loss"]) for r in rows if r["val_loss"] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    if train:
        s, y = zip(*train)
        ax.plot(s, y, color="tab:blue", alpha=0.25, lw=0.8, label="train loss (per step)")
        k = max(1, len(y) // 50)
        smooth = [sum(y[max(0, i - k + 1): i + 1]) / len(y[max(0, i - k + 1): i + 1]) for i in range(len(y))]
        ax.plot(s, smooth, color="tab:blue", lw=1.6, label=f"train loss (mean of {k})")
    if val:
        s, y = zip(*val)
        ax.plot(s, y, "o-", color="tab:orange", ms=3, lw=1.2, label="validation loss")
    if train and all(v > 0 for _, v in train):
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("MSE")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


@contextlib.contextmanager
def rich_progress(transient: bool = False) -> Iterator[Any]:
    """A ``progress(description, completed, total, **fields)`` callback drawing a rich bar with the
    fields (loss, ...), speed and ETA; for scripts and notebooks (the harness passes its own)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=transient) as bar:
        tasks: dict[str, Any] = {}

        def progress(description: str, completed: float, total: float | None = None, **fields: Any) -> None:
            info = " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total, info=info)
            bar.update(tasks[description], completed=completed, total=total, info=info)

        yield progress


def _fmt(v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:.4g}"
    return str(v)
