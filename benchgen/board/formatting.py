"""How numbers, intervals and directions print on every board, the CLI's scores and the plots' axes."""

from __future__ import annotations

import math

REAL_ROW = "real (test split)"
OUTSIDE = "†"  # a one-seed value outside its stored bootstrap interval
ARROWS = {"higher": "↑", "lower": "↓", "closest": "≈"}


def fmt_num(x: float) -> str:
    """A compact number: 3 significant digits, whole numbers from 100 to 1e5, exponents outside.
    Rounding is monotonic, so a value inside an interval prints inside the printed interval."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    a = abs(x)
    if 1e-3 <= a < 100:
        return f"{x:.3g}"
    if 100 <= a < 1e5:
        return f"{x:.0f}"
    return f"{x:.2e}"


def fmt_interval(value: float | None, lo: float | None, hi: float | None) -> str:
    """``value [low, high]``, ``value† [low, high]`` when the value lies outside, ``value`` without one."""
    if value is None:
        return ""
    s = fmt_num(value)
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return s
    mark = OUTSIDE if not lo <= value <= hi else ""
    return f"{s}{mark} [{fmt_num(lo)}, {fmt_num(hi)}]"

