"""Imported only when its plugin is first used; the registry tests check that listing does not import it."""

from benchgen.interfaces import Metric, MetricResult


class LazyMetric(Metric):
    def score(self, synthetic, real, train, ctx):
        return MetricResult(0.0)
