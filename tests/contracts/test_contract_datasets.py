"""Contract every registered dataset source passes: one test per check of `benchgen.testing` — items() is
non-empty, unique and stable, load() gives the item's finite, non-blank 3D volume with an invertible
affine, deterministically. Sources that read files get a tiny input made by benchgen.testing.FILE_INPUTS;
a source with other required parameters is skipped with the reason."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def checker(dataset_name, checker_for):
    return checker_for("datasets", dataset_name)


def test_dataset_contract(checker, check):
    checker.expect(check)
