"""Where a run's time goes: seconds per stage — the data, each generator's fit, its sampling, each metric's
scoring, the sample files — for the table that ends `benchgen run`, its run.log and its JSON summary.

Stages never overlap, so they add up; what no stage covers (imports, planning, the store) is the "other" row
of :meth:`StageTimes.rows`, and the rows sum to the total.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

# the per-generator columns in the order a generator's work runs; metric columns go between sample and files
FIT, SAMPLE, SCORE, FILES = "fit", "sample", "score", "files"


@dataclass
class StageTimes:
    """Seconds per (stage, generator, metric), summed over seeds, in the order stages were first seen."""

    seconds: dict[tuple[str, str | None, str | None], float] = field(default_factory=dict)

    @contextlib.contextmanager
    def time(self, stage: str, generator: str | None = None, metric: str | None = None) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t0, generator, metric)

    def add(self, stage: str, seconds: float, generator: str | None = None, metric: str | None = None) -> None:
        key = (stage, generator, metric)
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def rows(self, total: float) -> list[dict[str, Any]]:
        """One dict per stage (stage, generator and metric where they apply, seconds), then "other": the
        total's part no stage covers (never below 0)."""
        out: list[dict[str, Any]] = []
        for (stage, gen, metric), s in self.seconds.items():
            row: dict[str, Any] = {"stage": stage}
            if gen is not None:
                row["generator"] = gen
            if metric is not None:
                row["metric"] = metric
            out.append({**row, "seconds": round(s, 3)})
        return out + [{"stage": "other", "seconds": round(max(0.0, total - sum(self.seconds.values())), 3)}]

    def summary(self, total: float) -> dict[str, Any]:
        """What the JSON summary of a run holds: the total and the rows."""
        return {"total_s": round(total, 3), "stages": self.rows(total)}

    def table(self, total: float) -> list[str]:
        """The breakdown as plain text lines: a generator per row (fit, sample, each metric, files, its sum) and
        their column sums, then the stages of the whole run (data, board, other) and the total."""
        gens = list(dict.fromkeys(g for _, g, _ in self.seconds if g is not None))
        metrics = list(dict.fromkeys(m for _, _, m in self.seconds if m is not None))
        cols: list[tuple[str, str | None]] = [(FIT, None), (SAMPLE, None), *((SCORE, m) for m in metrics),
                                              (FILES, None)]
        width = max([len(g) for g in gens] + [len(s) for s, g, _ in self.seconds if g is None]
                    + [len("all generators")])
        head = [f"{m or st:>{max(len(m or st), 7)}}" for st, m in cols]
        lines = [f"time by stage (seconds; total {total:.1f} s)",
                 f"{'':{width}}  " + " ".join(head) + f" {'total':>8}"]
        for g in gens:
            vals = [f"{self.seconds[(st, g, m)]:>{len(h)}.1f}" if (st, g, m) in self.seconds else " " * len(h)
                    for (st, m), h in zip(cols, head)]
            own = sum(s for (_, gg, _), s in self.seconds.items() if gg == g)
            lines.append(f"{g:{width}}  " + " ".join(vals) + f" {own:8.1f}")
        if len(gens) > 1:  # each column over all generators: which metric costs most overall
            sums = [sum(self.seconds.get((st, g, m), 0.0) for g in gens) for st, m in cols]
            lines.append(f"{'all generators':{width}}  " + " ".join(f"{v:>{len(h)}.1f}" for v, h in zip(sums, head))
                         + f" {sum(sums):8.1f}")
        blank = " ".join(" " * len(h) for h in head)
        for (stage, gen, _), s in self.seconds.items():
            if gen is None:
                lines.append(f"{stage:{width}}  {blank} {s:8.1f}")
        other = self.rows(total)[-1]["seconds"]
        lines.append(f"{'other':{width}}  {blank} {other:8.1f}")
        lines.append(f"{'total':{width}}  {blank} {total:8.1f}")
        return lines


def append_to_log(path: str | Path, lines: list[str]) -> None:
    """Append `lines` to a run.log, each with the log's timestamp."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(f"{stamp} {line}\n" for line in lines)
