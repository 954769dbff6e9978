"""The tiny-suite builder the tests share writes TOML that reads back as the tables it was given."""

from __future__ import annotations

import tomllib

import pytest

from tests.suites import CONDITIONS, PHANTOM, conditional_suite, tiny_suite, to_toml


@pytest.mark.parametrize("doc", [PHANTOM, CONDITIONS], ids=["phantom", "conditions"])
def test_a_template_reads_back_as_itself_keys_in_order(doc):
    back = tomllib.loads(to_toml(doc))
    assert back == doc and list(back) == list(doc) and list(back["dataset"]) == list(doc["dataset"])


def test_changes_replace_keys_whole_and_none_drops_them():
    text = tiny_suite("x", generators={"a-b": {"params": {"k": [1, 2.5]}}, "c": {"parent": "p", "pretrain": {}}},
                      metrics={"prdc.recall": {}}, dataset={"params": {"voxel_mm": 4.0}, "jobs": 2},
                      evaluation={"bootstrap": None, "draws": 2}, preprocessing=None, suite={"primary_metric": "m"})
    doc = tomllib.loads(text)
    assert doc["suite"] == {"name": "x", "version": "1", "primary_metric": "m"}
    assert doc["dataset"]["params"] == {"voxel_mm": 4.0} and doc["dataset"]["jobs"] == 2  # params replaced whole
    assert "preprocessing" not in doc and "bootstrap" not in doc["evaluation"] and doc["evaluation"]["draws"] == 2
    assert doc["generators"] == {"a-b": {"params": {"k": [1, 2.5]}}, "c": {"parent": "p", "pretrain": {}}}
    assert list(doc["evaluation"]["metrics"]) == ["prdc.recall"]
    assert tomllib.loads(tiny_suite()) == PHANTOM  # the template itself is never changed by a call


def test_the_conditional_suite_takes_evaluation_keys_as_toml_text():
    doc = tomllib.loads(conditional_suite(4, "conditions = { healthy = 2, ftd-like = 2 }"))
    assert doc["evaluation"]["n_samples"] == 4 and doc["evaluation"]["conditions"] == {"healthy": 2, "ftd-like": 2}
    assert list(doc["evaluation"]) == ["n_samples", "seeds", "bootstrap", "conditions", "metrics"]
