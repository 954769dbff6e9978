"""Real data's condition: BIDS participants.tsv and manifest columns (`diagnosis` or `condition`) map to the
phantom's condition names; an unknown value is one line naming the subject, the column and the allowed values."""

import pytest

from benchgen import registry
from benchgen.conditions import condition_of, conditions_of
from benchgen.errors import DataError
from benchgen.testing.data import bids_tree, manifest_csv


def test_bids_participants_diagnosis_column(tmp_path):
    root = bids_tree(tmp_path)
    rows = (root / "participants.tsv").read_text().splitlines()
    rows = [rows[0] + "\tdiagnosis"] + [r + f"\t{dx}" for r, dx in zip(rows[1:], ["CN", "bvFTD", "ALS"])]
    (root / "participants.tsv").write_text("\n".join(rows) + "\n")
    items = registry.create("datasets", "bids", {"root": str(root)}).items()
    assert conditions_of([i.subject_id for i in items], [i.metadata for i in items]) == \
        ["healthy", "ftd-like", "als-like"]


def test_manifest_condition_column(tmp_path):
    path = manifest_csv(tmp_path)
    lines = path.read_text().splitlines()
    lines = [lines[0] + ",condition"] + [r + f",{c}" for r, c in zip(lines[1:], ["healthy", "n/a", "Control"])]
    path.write_text("\n".join(lines) + "\n")
    items = registry.create("datasets", "manifest", {"path": str(path)}).items()
    assert [condition_of(i.metadata, i.subject_id) for i in items] == ["healthy", None, "healthy"]


def test_unknown_value_is_one_line_with_the_allowed_values():
    with pytest.raises(DataError) as exc:
        condition_of({"diagnosis": "PSP"}, "subject 'sub-07'")
    assert exc.value.message == ("subject 'sub-07': unknown diagnosis value 'PSP'; allowed: healthy (control, "
                                 "controls, hc, cn, nc, ctrl); ftd-like (ftd, bvftd); als-like (als)")
    assert condition_of({"condition": "ALS-like", "diagnosis": "PSP"}, "x") == "als-like"  # condition first
