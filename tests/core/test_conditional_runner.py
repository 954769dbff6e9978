"""Conditions through the runner: condition tables, per-condition fits, conditional sampling, per-group
columns, and the bad inputs that must fail before any training."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchgen import conditions, paths
from benchgen.board.build import build_boards
from benchgen.board.render import render_markdown
from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import Generator
from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.sample.conditional import Fitted
from benchgen.suite.load import load_suite
from tests.suites import conditional_suite


def write(tmp_path: Path, n: int = 6, extra: str = "") -> Path:
    p = tmp_path / "cond.toml"
    p.write_text(conditional_suite(n, extra))
    return p


# ----------------------------------------------------------------------------------------- tables
def test_reference_table_keeps_proportions_and_covariates():
    ids = [f"s{i}" for i in range(5)]
    meta = [{"condition": "healthy", "age": 60.0, "sex": "F", "site": "a"}] * 3 + \
           [{"diagnosis": "FTD", "age": 70.0, "sex": "M"}] * 2
    table = conditions.reference_table(ids, meta, 10)
    assert table.counts() == {"healthy": 6, "ftd-like": 4}
    assert table.rows[0] == {"condition": "healthy", "age": 60.0, "sex": "F"}  # covariates only, normalised
    assert conditions.reference_table(ids, meta, 3).counts() == {"healthy": 2, "ftd-like": 1}  # largest remainder


def test_suite_table_from_counts_and_age_ranges():
    ref = conditions.ConditionTable([{"condition": "healthy", "age": 55.0, "sex": "F"},
                                     {"condition": "healthy", "age": 75.0, "sex": "M"}], "reference")
    table = conditions.suite_table({"healthy": {"n": 3, "age": [70, 80]}, "ftd-like": {"n": 2, "age": [50, 60]}},
                                   ref, 5)
    assert [r["age"] for r in table.rows[:3]] == [75.0, 75.0, 75.0]  # the reference rows in range
    assert [r["age"] for r in table.rows[3:]] == [52.5, 57.5]  # none in the reference: spread over the range
    assert table.counts() == {"healthy": 3, "ftd-like": 2} and table.source == "suite"


@pytest.mark.parametrize("spec, words", [
    ("{ dementia = 6 }", "unknown condition 'dementia'"),
    ("{ healthy = 0, ftd-like = 6 }", "expected a count ≥ 1"),
    ("{ healthy = { n = 6, age = [80, 50] } }", "expected [low, high]"),
    ("{ healthy = { n = 6, ages = [50, 80] } }", "unknown key 'ages'"),
    ("{ healthy = 4 }", "the counts sum to 4, but evaluation.n_samples is 6"),
])
def test_bad_condition_tables_are_one_line_at_load(tmp_path, spec, words):
    with pytest.raises(ConfigError) as exc:
        load_suite(write(tmp_path, extra=f"conditions = {spec}"), profile="default")
    assert words in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("table, words", [
    ('stratify = "site"', "'site' is not allowed"),
])
def test_bad_stratify_is_refused_at_load(tmp_path, table, words):
    text = conditional_suite(6).replace('[evaluation.metrics.mmd]\nstratify = "condition"',
                                        f"[evaluation.metrics.mmd]\n{table}")
    p = tmp_path / "s.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_suite(p, profile="default")


def test_stratify_on_a_metric_that_compares_groups_itself_is_refused(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(conditional_suite(6) + '[evaluation.metrics.anatomy]\nstratify = "condition"\n')
    with pytest.raises(ConfigError, match="anatomy.stratify: metric 'anatomy' cannot be scored per group"):
        load_suite(p, profile="default")


# ----------------------------------------------------------------------------------- sampling
class Constant(Generator):
    """A model whose samples are all `value`: shows which part drew which rows."""

    def __init__(self, value: float, keys: tuple[str, ...] = ()):
        super().__init__()
        self.value, self.keys = value, keys

    def fit(self, train, ctx):
        pass

    def sample(self, n, seed, progress=None):
        return torch.full((n, 1, 2, 2, 2), self.value) + 0.001 * seed

    def sample_conditional(self, table, seed, progress=None):
        return torch.stack([torch.full((1, 2, 2, 2), 0.9 if r["condition"] == "ftd-like" else 0.1)
                            for r in table])

    def conditions(self):
        return self.keys

    def save(self, folder):
        pass

    def load(self, folder):
        pass


def test_per_condition_parts_draw_their_own_rows(home, tmp_path):
    table = conditions.ConditionTable([{"condition": c} for c in ["ftd-like", "healthy", "ftd-like", "healthy"]],
                                      "reference")
    spec = type("Spec", (), {"label": "g"})()
    fitted = Fitted(spec, {"healthy": (Constant(0.2), tmp_path / "h"), "ftd-like": (Constant(0.7), tmp_path / "f")})
    cohort, took = fitted.draw(table, 0, (2, 2, 2), np.eye(4))
    assert cohort.data[:, 0, 0, 0, 0].tolist() == pytest.approx([0.7, 0.2, 0.7, 0.2])
    assert took is not None and took.volumes == 4  # the parts' total time over all their volumes
    assert [m["condition"] for m in cohort.metadata] == ["ftd-like", "healthy", "ftd-like", "healthy"]
    assert fitted.conditioning() == "per-condition"


def test_conditional_models_draw_to_the_table_and_unconditional_ones_get_its_labels(home, tmp_path):
    table = conditions.ConditionTable([{"condition": c, "age": 60.0} for c in ["healthy", "ftd-like"]], "reference")
    spec = type("Spec", (), {"label": "g"})()
    cond = Fitted(spec, {"": (Constant(0.5, ("condition",)), tmp_path / "c")})
    assert cond.draw(table, 0, (2, 2, 2), np.eye(4))[0].data[:, 0, 0, 0, 0].tolist() == pytest.approx([0.1, 0.9])
    assert cond.conditioning() == "conditional: condition"
    plain = Fitted(spec, {"": (Constant(0.5), tmp_path / "u")})
    drawn, _ = plain.draw(table, 0, (2, 2, 2), np.eye(4))
    assert drawn.data[:, 0, 0, 0, 0].tolist() == pytest.approx([0.5, 0.5])
    assert drawn.metadata == table.rows and plain.conditioning() == "unconditional"


# --------------------------------------------------------------------------------- end to end
def test_a_mixed_cohort_suite_end_to_end(home, tmp_path):
    suite = load_suite(write(tmp_path), profile="default")
    summary = run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert summary.ok, summary.errors
    records = ResultStore(tmp_path / "r.sqlite").records(suite="cond")
    by = {(r["generator"], r["metric"]): r for r in records}
    for gen in ("holdout", "gaussian", "noise"):
        for col in ("mmd", "mmd[healthy]", "mmd[ftd-like]", "memorization.copies[ftd-like]"):
            assert by[(gen, col)]["status"] == "ok", (gen, col, by[(gen, col)]["message"])
        table = by[(gen, "mmd")]["extra"]["condition_table"]
        assert table["counts"] == {"healthy": 3, "ftd-like": 3} and table["source"] == "reference"
        assert len(table["rows"]) == 6
    modes = {g: by[(g, "mmd")]["sampler"]["conditioning"] for g in ("holdout", "gaussian", "noise")}
    assert modes == {"holdout": "conditional: condition", "gaussian": "per-condition", "noise": "unconditional"}
    # one checkpoint per condition for the per-condition generator, each saying which
    metas = [json.loads(p.read_text()) for p in paths.cache_dir("checkpoints").glob("gaussian-*/generator.json")]
    assert sorted(m["condition"] for m in metas) == ["ftd-like", "healthy"]
    # holdout's rows are real scans of the asked condition: its per-group MMD to its own group is small,
    # and smaller than that of noise
    assert by[("holdout", "mmd[ftd-like]")]["value"] < by[("noise", "mmd[ftd-like]")]["value"]
    board = build_boards(records)[0]
    assert {"mmd[healthy]", "mmd[ftd-like]"} <= set(board.columns)
    text = render_markdown([board])
    assert "unconditional, the table's labels assigned to its samples: noise" in text
    assert "fitted per condition: gaussian" in text and "columns without [...] pool all conditions" in text


def test_conditions_the_training_split_lacks_fail_before_any_fit(home, tmp_path):
    suite = load_suite(write(tmp_path, extra="conditions = { healthy = 3, als-like = 3 }"), profile="default")
    with pytest.raises(ConfigError, match=r"asks for 3 als-like volumes, but the training split.* has 0 als-like scans"):
        run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert not list(paths.cache_dir("checkpoints").glob("gaussian-*"))  # nothing was trained


def test_a_stratified_group_of_one_scan_fails_before_any_fit(home, tmp_path):
    suite = load_suite(write(tmp_path, extra="conditions = { healthy = 5, ftd-like = 1 }"), profile="default")
    with pytest.raises(ConfigError, match=r"mmd.stratify: group condition = ftd-like has 1 scan in the condition"):
        run_suite(suite, tmp_path / "r.sqlite", quiet=True)
    assert not list(paths.cache_dir("checkpoints").glob("*-*"))


def test_unknown_diagnosis_values_are_one_line():
    with pytest.raises(DataError, match="unknown diagnosis value 'MCI'"):
        conditions.reference_table(["s1"], [{"diagnosis": "MCI"}], 2)


def test_like_copies_a_generator_table_under_its_own_keys(tmp_path):
    text = conditional_suite(6).replace("[generators.noise]", '''[generators.noise]
[generators.gauss2]
like = "gaussian"
params = { temperature = 0.5 }
[generators.gauss3]
like = "gauss2"''')
    p = tmp_path / "s.toml"
    p.write_text(text)
    gens = load_suite(p, profile="default").generators
    assert gens["gauss2"].plugin == "gaussian" and gens["gauss2"].per_condition
    assert (gens["gauss2"].params.rank, gens["gauss2"].params.temperature) == (2, 0.5)
    assert gens["gauss3"].params == gens["gauss2"].params
    p.write_text(text.replace('like = "gaussian"', 'like = "gauss3"'))
    with pytest.raises(ConfigError, match="like: a loop"):
        load_suite(p, profile="default")
    p.write_text(text.replace('like = "gaussian"', 'like = "nope"'))
    with pytest.raises(ConfigError, match="gauss2.like: no generator 'nope'"):
        load_suite(p, profile="default")
