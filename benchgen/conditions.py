"""A scan's condition (diagnosis) from its metadata, the same for every source.

The phantom writes ``condition``; real data carry a ``diagnosis`` or ``condition`` column (BIDS
``participants.tsv``, a manifest's or a participants table's columns become metadata as they are). Values
are matched case-insensitively against the conditions benchgen knows and their usual spellings; any other
value is a one-line :class:`DataError` listing the allowed ones, where a condition is used (stratified
splits, the ``anatomy`` metric's disease effects).
"""

from __future__ import annotations

from typing import Any, Sequence

from benchgen.errors import DataError

COLUMNS = ("condition", "diagnosis")  # metadata keys read, in this order
ALIASES: dict[str, tuple[str, ...]] = {
    "healthy": ("healthy", "control", "controls", "hc", "cn", "nc", "ctrl"),
    "ftd-like": ("ftd-like", "ftd", "bvftd"),
    "als-like": ("als-like", "als"),
}
_LOOKUP = {alias: cond for cond, names in ALIASES.items() for alias in names}
ALLOWED = "; ".join(f"{c} ({', '.join(n[1:])})" if len(n) > 1 else c for c, n in ALIASES.items())


def condition_of(metadata: dict[str, Any], where: str) -> str | None:
    """The condition of one scan (None when neither column is there or the value is n/a); an unknown
    value is a DataError naming `where` (the subject), the column and the allowed values."""
    for column in COLUMNS:
        value = metadata.get(column)
        if value is None:
            continue
        cond = _LOOKUP.get(str(value).strip().lower())
        if cond is None:
            raise DataError(f"{where}: unknown {column} value {value!r}; allowed: {ALLOWED}",
                            "fix the participants/manifest column, or leave the value n/a")
        return cond
    return None


def conditions_of(subject_ids: Sequence[str], metadata: Sequence[dict[str, Any]]) -> list[str | None]:
    """:func:`condition_of` for every scan of a set."""
    return [condition_of(m, f"subject '{s}'") for s, m in zip(subject_ids, metadata)]
