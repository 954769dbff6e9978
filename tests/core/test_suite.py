import pytest

from benchgen.errors import ConfigError
from benchgen.suite.load import load_suite
from tests.core.conftest import SUITE


def test_valid_suite_and_profile(fake_registry, suite_file):
    s = load_suite(suite_file(), profile="default")
    assert (s.name, s.shape, s.seeds, s.n_samples, s.bootstrap) == ("toy", (6, 8, 6), [0, 1], 4, 7)
    assert s.generators["bad"].params.scale == 0.5 and s.generators["good"].params.scale == 1.0
    q = load_suite(suite_file(), profile="quick")
    assert q.profile == "quick" and q.seeds == [0]


@pytest.mark.parametrize("cuda", [False, True])
def test_auto_profile_is_quick_with_or_without_cuda(fake_registry, suite_file, monkeypatch, cuda):
    """A CUDA device (a laptop GPU is one) never starts the paper profile by itself."""
    monkeypatch.setattr("benchgen.suite.load.cuda_available", lambda: cuda)
    s = load_suite(suite_file())
    assert s.profile == "quick" and "only when named" in s.profile_reason
    from benchgen.suite.load import choose_profile

    assert choose_profile("auto", ["paper", "quick"])[0] == "quick"
    assert choose_profile("auto", ["paper", "paper-plus", "small"])[0] == "small"
    assert choose_profile("paper", ["paper", "quick"]) == ("paper", "chosen on the command line")


@pytest.mark.parametrize("old,new,expect", [
    ('n_samples = 4', 'n_samples = 1', "evaluation.n_samples: must be at least 2"),
    ('n_samples = 4', 'n_sample = 4', "unknown key 'n_sample'; did you mean 'n_samples'?"),
    ('test = 0.25 }', 'test = 0.3 }', "fractions must sum to 1"),
    ('plugin = "mean"\n[generators.bad]', 'plugin = "maen"\n[generators.bad]', "did you mean 'mean'"),
    ('scale = 0.5', 'scale = "big"', "generators.bad.params.scale: expected a number"),
    ('scale = 0.5', 'scael = 0.5', "generators.bad.params: unknown key 'scael'"),
    ('shape = [6, 8, 6]', 'shape = [6, 8]', "dataset.shape: expected three integers"),
    ('seeds = [0, 1]', 'seeds = [0, 0]', "seeds repeat"),
    ('primary_metric = "meandiff"', 'primary_metric = "fid"', "suite.primary_metric: 'fid' is not one"),
    ('evaluation = { seeds = [0] }', 'evaluation = { seed = [0] }', "[profiles.quick.evaluation]: unknown key 'seed'"),
    ('source = "blobs"', 'source = 3', "dataset.source: expected a string"),
])
def test_bad_suites_name_the_key(fake_registry, suite_file, old, new, expect):
    assert old in SUITE
    with pytest.raises(ConfigError) as err:
        load_suite(suite_file(SUITE.replace(old, new)), profile="default")
    assert expect in str(err.value)
    assert "toy.toml" in str(err.value)


def test_toml_syntax_error_has_line(fake_registry, suite_file):
    with pytest.raises(ConfigError, match=r"TOML syntax error.*line 3"):
        load_suite(suite_file('[suite]\nname = "x"\nversion = \n'))


def test_missing_file_and_unknown_profile(fake_registry, suite_file, tmp_path):
    with pytest.raises(ConfigError, match="no such suite file"):
        load_suite(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="unknown profile 'paper'"):
        load_suite(suite_file(), profile="paper")


PROFILE_LIKE = '''
[profiles.small]
like = "quick"
evaluation = { n_samples = 2 }
[profiles.loop-a]
like = "loop-b"
[profiles.loop-b]
like = "loop-a"
[profiles.orphan]
like = "nowhere"
'''


def test_a_profile_like_another_is_merged_over_it(fake_registry, suite_file):
    path = suite_file(SUITE + PROFILE_LIKE)
    small = load_suite(path, profile="small")
    assert small.seeds == [0] and small.n_samples == 2  # quick's seeds, its own sample count
    assert load_suite(path, profile="quick").n_samples == 4
    with pytest.raises(ConfigError, match=r"profiles.loop-b.like: a loop \(loop-a -> loop-b -> loop-a\)"):
        load_suite(path, profile="loop-a")
    with pytest.raises(ConfigError, match="profiles.orphan.like: no profile 'nowhere' in this suite"):
        load_suite(path, profile="orphan")


@pytest.mark.parametrize("tp, bad", [(str, 3), (int, 1.5), (int, True), (float, "x"), (bool, 1), (list, "x"),
                                     (dict, [1])])
def test_suite_schema_and_plugin_params_check_values_with_one_checker(tp, bad):
    """A suite key and a plugin parameter of the same type fail with the same line: one checker."""
    from benchgen.params import coerce
    from benchgen.suite.schema import check_table

    with pytest.raises(ConfigError) as by_params:
        coerce(bad, tp, "t.k")
    with pytest.raises(ConfigError) as by_schema:
        check_table({"k": bad}, {"k": (tp, True)}, "t")
    assert by_schema.value.message == by_params.value.message
    assert by_schema.value.message.startswith("t.k: expected ")
