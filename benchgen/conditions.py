"""A scan's condition (diagnosis) from its metadata, the same for every source.

The phantom writes ``condition``; real data carry a ``diagnosis`` or ``condition`` column (BIDS
``participants.tsv``, a manifest's or a participants table's columns become metadata as they are). Values
are matched case-insensitively against the conditions benchgen knows and their usual spellings; any other
value is a one-line :class:`DataError` listing the allowed ones, where a condition is used (stratified
splits, the ``anatomy`` metric's disease effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from benchgen.errors import ConfigError, DataError
from benchgen.hashing import fingerprint

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


# ------------------------------------------------------------------------------------ condition tables
COVARIATES = ("condition", "age", "sex")  # the metadata a condition table carries (what generators condition on)


@dataclass
class ConditionTable:
    """The metadata of the synthetic set a runner asks a generator for: one row per volume.

    ``source`` says where it came from: ``"reference"`` (the test split's own table, resampled to
    n_samples, so synthetic and real sets compare group by group) or ``"suite"`` (``[evaluation.conditions]``).
    Unconditional generators get the same rows as labels of their samples (assigned, not generated)."""

    rows: list[dict[str, Any]]
    source: str

    def counts(self) -> dict[str, int]:
        """Volumes per condition ("n/a" for rows without one), in first-seen order."""
        out: dict[str, int] = {}
        for row in self.rows:
            key = str(row.get("condition") or NA)
            out[key] = out.get(key, 0) + 1
        return out

    def groups(self, key: str = "condition") -> dict[str, list[int]]:
        """Row indices per value of `key` (sorted by value; rows without one are left out)."""
        out: dict[str, list[int]] = {}
        for i, row in enumerate(self.rows):
            if row.get(key) is not None:
                out.setdefault(str(row[key]), []).append(i)
        return dict(sorted(out.items()))

    def record(self) -> dict[str, Any]:
        """What every score stores about the table (the rows themselves, and a summary)."""
        return {"source": self.source, "counts": self.counts(), "fingerprint": fingerprint(self.rows, 16),
                "rows": self.rows}


NA = "n/a"


def covariates(metadata: dict[str, Any], where: str) -> dict[str, Any]:
    """The :data:`COVARIATES` of one scan's metadata, the condition normalised (absent keys left out)."""
    row = {k: metadata[k] for k in ("age", "sex") if metadata.get(k) is not None}
    cond = condition_of(metadata, where)
    return {"condition": cond, **row} if cond is not None else row


def reference_table(subject_ids: Sequence[str], metadata: Sequence[dict[str, Any]], n: int) -> ConditionTable:
    """The reference set's own table at `n` rows: each condition gets its share of `n` (largest
    remainder), filled with that condition's reference rows in order, cycled when it needs more."""
    rows = [covariates(m, f"subject '{s}'") for s, m in zip(subject_ids, metadata)]
    by_cond: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_cond.setdefault(str(row.get("condition") or NA), []).append(row)
    quotas = {c: n * len(rs) / len(rows) for c, rs in by_cond.items()}
    counts = {c: int(q) for c, q in quotas.items()}
    for c in sorted(quotas, key=lambda c: counts[c] - quotas[c])[: n - sum(counts.values())]:
        counts[c] += 1
    out = [dict(by_cond[c][i % len(by_cond[c])]) for c in by_cond for i in range(counts[c])]
    return ConditionTable(out, "reference")


def suite_table(spec: dict[str, Any], reference: ConditionTable, n_samples: int) -> ConditionTable:
    """``[evaluation.conditions]`` as a table: ``cond = N`` or ``cond = { n = N, age = [lo, hi] }``. Rows of a
    condition are the reference's rows of it (in the age range when one is given), cycled; without any,
    ages spread evenly over the range and sex alternating F/M."""
    out: list[dict[str, Any]] = []
    for name, want in spec.items():
        where = f"evaluation.conditions.{name}"
        cond = condition_of({"condition": name}, where)
        n, ages = (want, None) if isinstance(want, int) else (want.get("n"), want.get("age"))
        pool = [r for r in reference.rows if r.get("condition") == cond
                and (ages is None or ("age" in r and ages[0] <= r["age"] <= ages[1]))]
        if pool:
            out += [dict(pool[i % len(pool)]) for i in range(n)]
        else:
            lo, hi = ages if ages is not None else (None, None)
            out += [{"condition": cond, **({"age": round(lo + (hi - lo) * (i + 0.5) / n, 1)} if lo is not None else {}),
                     "sex": "FM"[i % 2]} for i in range(n)]
    if len(out) != n_samples:
        raise ConfigError(f"evaluation.conditions: the counts sum to {len(out)}, but evaluation.n_samples is "
                          f"{n_samples}", "make them equal (a profile that changes n_samples changes the counts too)")
    return ConditionTable(out, "suite")


def check_conditions_spec(spec: Any) -> None:
    """``[evaluation.conditions]`` parsed strictly (at suite load): names, counts ≥ 1, age ranges."""
    if not isinstance(spec, dict) or not spec:
        raise ConfigError("evaluation.conditions: expected a table like { healthy = 40, ftd-like = { n = 8, "
                          "age = [50, 80] } }")
    for name, want in spec.items():
        where = f"evaluation.conditions.{name}"
        if name.strip().lower() not in _LOOKUP:
            raise ConfigError(f"{where}: unknown condition '{name}'", f"allowed: {ALLOWED}")
        if isinstance(want, dict):
            extra = sorted(set(want) - {"n", "age"})
            if extra:
                raise ConfigError(f"{where}: unknown key '{extra[0]}'", "allowed: n, age = [low, high]")
            n, ages = want.get("n"), want.get("age")
            if ages is not None and not (isinstance(ages, list) and len(ages) == 2
                                         and all(isinstance(a, (int, float)) for a in ages) and ages[0] <= ages[1]):
                raise ConfigError(f"{where}.age: expected [low, high] in years, got {ages!r}")
        else:
            n = want
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{where}: expected a count ≥ 1 (or {{ n = N, age = [low, high] }}), got {want!r}")


def check_groups(table: ConditionTable, available: dict[str, int], what: str, minimum: int = 1) -> None:
    """Every condition `table` asks for has at least `minimum` scans in `available` (condition -> count):
    otherwise one ConfigError naming the condition and `what` (e.g. "the training split")."""
    for cond, n in table.counts().items():
        have = available.get(cond, 0)
        if have < minimum:
            raise ConfigError(f"the condition table asks for {n} {cond} volumes, but {what} has {have} {cond} "
                              f"scan{'s' if have != 1 else ''} (at least {minimum} needed)",
                              f"{what} has: {', '.join(f'{c} {k}' for c, k in available.items()) or 'none'}; "
                              "change [evaluation.conditions] or the dataset's conditions")


def cohort_counts(subject_ids: Sequence[str], metadata: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Scans per condition of a set ("n/a" for scans without one)."""
    out: dict[str, int] = {}
    for cond in conditions_of(subject_ids, metadata):
        out[cond or NA] = out.get(cond or NA, 0) + 1
    return out


def of_condition(cohort: Any, cond: str) -> Any:
    """The scans of `cohort` (a :class:`~benchgen.volumes.Cohort`) with condition `cond`, or None if none."""
    idx = [i for i, c in enumerate(conditions_of(cohort.subject_ids, cohort.metadata)) if c == cond]
    return cohort.subset(idx) if idx else None
