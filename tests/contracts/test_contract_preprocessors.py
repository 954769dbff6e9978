"""Contract every registered preprocessing step passes: one test per check of `benchgen.testing` —
Volume -> Volume, input left untouched, 3D finite output keeping subject and metadata, deterministic,
and a fingerprint that follows its params (it keys the preprocessed-data cache)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def checker(preprocessor_name, checker_for):
    return checker_for("preprocessors", preprocessor_name)  # applied once for all the checks


def test_preprocessor_contract(checker, check):
    checker.expect(check)
