"""What each board column measures, as its metric declares it (:attr:`benchgen.interfaces.Metric.kind`): the
report and the run's figures choose their plots by it, never by a built-in plugin's name, so a third-party
metric of kind "utility" gets the trade-off plot as the built-in one does."""

from __future__ import annotations

from typing import Any

from benchgen import registry
from benchgen.errors import PluginError


def metric_kind(plugin: str) -> str | None:
    """The kind the metric plugin `plugin` (a plain or qualified name, as records store it) declares; None when
    it is not installed or does not load here (its columns then get no figure of their own)."""
    try:
        return registry.load_class("metrics", plugin).kind
    except PluginError:
        return None


def column_kinds(records: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each record's column (``metric``, e.g. ``memorization.copies`` or ``frd[healthy]``) -> its metric's kind."""
    plugins = {r["metric"]: r["metric_plugin"] for r in records}
    kinds = {p: metric_kind(p) for p in set(plugins.values())}
    return {column: kinds[p] for column, p in plugins.items()}
