"""Contract every registered metric passes (built with its `tiny_params`, on tiny sets of unequal size): one
test per check of `benchgen.testing` — metadata, score returns MetricResult(s), each finite-or-skipped,
the same ctx.seed gives the same numbers, JSON config."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def checker(metric_name, checker_for):
    return checker_for("metrics", metric_name)  # scored once for all the checks


def test_metric_contract(checker, check):
    checker.expect(check)
