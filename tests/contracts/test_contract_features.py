"""Contract every registered feature extractor passes: one test per check of `benchgen.testing` — N volumes
-> N×F float64, finite, not constant, deterministic, no batch effects, a valid weights digest. Pretrained
weights that are not on this machine skip the checks that need them (with the reason)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def checker(feature_name, checker_for):
    return checker_for("features", feature_name)


def test_feature_contract(checker, check):
    checker.expect(check)
