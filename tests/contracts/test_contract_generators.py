"""Contract every registered generator passes (built with its `tiny_params`, on tiny cohorts): one test per
check of `benchgen.testing` — fit, sample shape / dtype / finite / range / not constant, same seed → same
samples, other seed → other samples, a checkpoint without pickles that loads into a fresh instance and
samples the same, JSON sampler_info and config."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def checker(generator_name, checker_for):
    return checker_for("generators", generator_name)  # fitted and sampled once for all the checks


def test_generator_contract(checker, check):
    checker.expect(check)
