"""The one JSON-description reader: every way a description file can be wrong is one ConfigError line naming
the file, and the checkpoint folder and the cluster run folder both read theirs through it."""

import json

import pytest

from benchgen.descriptions import DescriptionMissing, read_description
from benchgen.errors import ConfigError


@pytest.mark.parametrize("text, why", [
    ('{"plugin": "x", "vers', "JSONDecodeError"),
    ("[1, 2]", "not a JSON object; missing plugin, version"),
    ('{"plugin": "x"}', "missing version"),
    (b"\xff\xfe{", "UnicodeDecodeError"),
])
def test_a_broken_description_is_one_line_naming_the_file(tmp_path, text, why):
    path = tmp_path / "thing.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as err:
        read_description(path, ("plugin", "version"), what="thing description", hint="write it again")
    assert not isinstance(err.value, DescriptionMissing)
    assert err.value.message.startswith(f"{path}: not a valid thing description (") and why in err.value.message
    assert "\n" not in err.value.message and err.value.hint == "write it again"


def test_a_missing_description_says_the_folder_is_not_that_kind_of_folder(tmp_path):
    with pytest.raises(DescriptionMissing) as err:
        read_description(tmp_path / "run.json", what="run description", hint="h", folder_kind="run folder",
                         missing_hint="pass the folder it printed")
    assert err.value.message == f"{tmp_path} is not a run folder (no run.json)"
    assert err.value.hint == "pass the folder it printed"


def test_a_valid_description_is_returned_whole(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps({"a": 1, "b": [2]}))
    assert read_description(tmp_path / "d.json", ("a",), what="d", hint="h") == {"a": 1, "b": [2]}


def test_checkpoint_and_run_folders_read_their_descriptions_with_it(tmp_path):
    from benchgen.checkpoint import check_description, generator_config
    from benchgen.fit.saving import load_checkpoint
    from benchgen.cluster.ledger import open_run_folder

    (tmp_path / "generator.json").write_text("[]")
    for read in (generator_config, load_checkpoint, check_description):
        with pytest.raises(ConfigError, match=r"generator\.json: not a valid checkpoint description \(not a JSON"):
            read(tmp_path)
    (tmp_path / "run.json").write_text('{"suite": "s"}')
    with pytest.raises(ConfigError, match=r"run\.json: not a valid run description \(missing suite_version"):
        open_run_folder(tmp_path)
    with pytest.raises(DescriptionMissing, match="is not a run folder"):
        open_run_folder(tmp_path / "nowhere")


def test_generator_folders_read_their_own_descriptions_through_it(tmp_path):
    """A generator's own description file (the baselines' state.json, the ddpm's ddpm.json) broken after a save:
    one line naming that file, of the error kind the plugin's contract promises."""
    import torch

    from benchgen.errors import DataError
    from benchgen.registry import create
    from benchgen.volumes import Cohort

    noise = create("generators", "noise", {})
    noise.fit(Cohort(torch.rand(3, 1, 4, 4, 4), torch.eye(4), ["a", "b", "c"]), None)
    noise.save(tmp_path / "noise")
    (tmp_path / "noise" / "state.json").write_text('{"plugin": "noise"}')
    with pytest.raises(DataError, match=r"state.json: not a valid 'noise' state description \(missing shape\)"):
        create("generators", "noise", {}).load(tmp_path / "noise")

    from benchgen_ddpm.checkpoint import load_weights

    (tmp_path / "ddpm").mkdir()
    (tmp_path / "ddpm" / "ddpm.json").write_text("{broken")
    with pytest.raises(ConfigError, match=r"ddpm.json: not a valid ddpm checkpoint description \(JSONDecodeError"):
        load_weights(tmp_path / "ddpm")
    with pytest.raises(DescriptionMissing, match="is not a ddpm checkpoint"):
        load_weights(tmp_path)
