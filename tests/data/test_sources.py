import numpy as np
import pytest
from badfiles import brain_like, save

from benchgen import registry
from benchgen.data.preprocessing import process_items
from benchgen.errors import ConfigError, DataError
from benchgen.hashing import file_sha256
from benchgen.interfaces import PrepContext


def src(name, **params):
    return registry.create("datasets", name, params)


def test_nifti_folder_ids_keys_regex_and_participants(tmp_path):
    a = save(tmp_path / "d" / "sub-01_T1w.nii.gz", brain_like(seed=1))
    b = save(tmp_path / "d" / "nested" / "sub-02_T1w.nii", brain_like(seed=2))
    save(tmp_path / "d" / ".hidden.nii.gz", brain_like(seed=3))
    (tmp_path / "d" / "notes.txt").write_text("x")
    (tmp_path / "p.csv").write_text("subject,age,group\nsub-01,70,AD\nsub-02,n/a,CN\n")
    s = src("nifti-folder", path=str(tmp_path / "d"))
    items = s.items()
    assert sorted(i.subject_id for i in items) == ["sub-01_T1w", "sub-02_T1w"]
    assert {i.key for i in items} == {file_sha256(a), file_sha256(b)}
    s2 = src("nifti-folder", path=str(tmp_path / "d"), subject_regex=r"^(sub-[^_]+)",
             participants=str(tmp_path / "p.csv"))
    meta = {i.subject_id: i.metadata for i in s2.items()}
    assert meta == {"sub-01": {"age": 70, "group": "AD"}, "sub-02": {"age": None, "group": "CN"}}
    v = s2.load(s2.items()[0])
    np.testing.assert_allclose(v.array, brain_like(seed=int(v.subject_id[-1])), rtol=1e-6)
    g = src("nifti-folder", path=str(tmp_path / "d" / "*_T1w.nii.gz"))
    assert [i.subject_id for i in g.items()] == ["sub-01_T1w"]
    st = src("nifti-folder", path=str(tmp_path / "d"), hash="stat")
    assert all(i.key.startswith("stat:") for i in st.items())


def test_nifti_folder_missing_folder(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        src("nifti-folder", path=str(tmp_path / "nope")).items()


def _bids(root):
    save(root / "sub-01" / "ses-2" / "anat" / "sub-01_ses-2_T1w.nii.gz", brain_like(seed=12))
    save(root / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_T1w.nii.gz", brain_like(seed=11))
    save(root / "sub-02" / "anat" / "sub-02_run-2_T1w.nii.gz", brain_like(seed=22))
    save(root / "sub-02" / "anat" / "sub-02_run-1_T1w.nii.gz", brain_like(seed=21))
    save(root / "sub-02" / "anat" / "sub-02_FLAIR.nii.gz", brain_like(seed=23))
    (root / "participants.tsv").write_text("participant_id\tage\tsex\nsub-01\t71.5\tF\nsub-02\tn/a\tM\n")


def test_bids_first_and_all_sessions(tmp_path):
    _bids(tmp_path)
    first = src("bids", root=str(tmp_path)).items()
    assert [(i.subject_id, i.metadata) for i in first] == [
        ("sub-01", {"age": 71.5, "sex": "F", "session": "1"}), ("sub-02", {"age": None, "sex": "M", "run": 1})]
    assert first[1].path.endswith("sub-02_run-1_T1w.nii.gz")
    every = src("bids", root=str(tmp_path), sessions="all").items()
    assert [(i.subject_id, i.metadata.get("session")) for i in every] == [
        ("sub-01", "1"), ("sub-01", "2"), ("sub-02", None), ("sub-02", None)]


def test_manifest_labels_relative_paths_and_bad_rows(tmp_path):
    save(tmp_path / "scans" / "a.nii.gz", brain_like(seed=1))
    save(tmp_path / "scans" / "b.nii.gz", brain_like(seed=2))
    (tmp_path / "m.csv").write_text(
        "path,subject,split,diagnosis,mmse\nscans/a.nii.gz,A,train,FTD,24\nscans/b.nii.gz,B,test,CN,30\n"
        "scans/missing.nii.gz,C,train,CN,29\n,D,train,CN,28\n")
    s = src("manifest", path=str(tmp_path / "m.csv"))
    items = s.items()
    assert [i.subject_id for i in items] == ["A", "B", "C", "D"]
    assert items[0].metadata == {"split": "train", "diagnosis": "FTD", "mmse": 24}
    vols, fails = process_items(s, [], PrepContext((24, 28, 22)))
    assert [v.subject_id for v in vols] == ["A", "B"] and vols[0].metadata["diagnosis"] == "FTD"
    reasons = {f.subject_id: f.reason for f in fails}
    assert "no such file" in reasons["C"] and "empty path" in reasons["D"]
    (tmp_path / "m2.csv").write_text("file,id\nx,y\n")
    with pytest.raises(ConfigError, match="no column 'path'"):
        src("manifest", path=str(tmp_path / "m2.csv")).items()
    assert len(src("manifest", path=str(tmp_path / "m2.csv"), path_column="file", subject_column="id").items()) == 1


def test_duplicate_subjects_are_failures(tmp_path):
    save(tmp_path / "sub-01_a.nii.gz", brain_like(seed=1))
    save(tmp_path / "sub-01_b.nii.gz", brain_like(seed=2))
    s = src("nifti-folder", path=str(tmp_path), subject_regex=r"^(sub-\d+)")
    vols, fails = process_items(s, [], PrepContext((24, 28, 22)))
    assert len(vols) == 1 and vols[0].source.endswith("sub-01_a.nii.gz")
    assert len(fails) == 1 and "duplicate subject 'sub-01'" in fails[0].reason
