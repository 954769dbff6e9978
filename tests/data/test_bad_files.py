import csv
import json

import nibabel as nib
import numpy as np
import pytest
from badfiles import EXPECTED, brain_like, make_mixed_folder, save
from typer.testing import CliRunner

import benchgen.cli.data  # noqa: F401  (registers `data export`)
import benchgen.cli.preprocess  # noqa: F401  (registers `preprocess`)
from benchgen import registry
from benchgen.cli.app import app
from benchgen.data.preprocessing import preprocess_folder, process_items
from benchgen.errors import ConfigError, DataError
from benchgen.interfaces import PrepContext

CHAIN = "reorient,crop-pad,resize,scale-01"
CP = {"crop-pad": {"mode": "center"}}
SHAPE = (16, 16, 16)


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns, p.stat().st_size if p.is_file() else 0)
                  for p in root.rglob("*"))


@pytest.fixture
def mixed(tmp_path):
    files = make_mixed_folder(tmp_path / "src")
    return tmp_path / "src", files


def test_each_bad_file_gets_its_reason(mixed):
    root, files = mixed
    s = registry.create("datasets", "nifti-folder", {"path": str(root)})
    steps = [registry.create("preprocessors", n, CP.get(n)) for n in CHAIN.split(",")]
    vols, fails = process_items(s, steps, PrepContext(SHAPE))
    by_path = {f.path: f.reason for f in fails}
    for kind, sub in EXPECTED.items():
        if kind == "duplicate":
            pair = [str(files["good0"]), str(files["duplicate"])]
            assert sum("duplicate file: same content as" in by_path.get(p, "") for p in pair) == 1
            continue
        reason = by_path.get(str(files[kind]))
        assert reason is not None and sub in reason, (kind, reason)
        assert "\n" not in reason and len(reason) < 300
    assert len(vols) == 3
    assert all(v.array.shape == SHAPE and v.array.max() == 1.0 for v in vols)


def test_first_volume_accepts_4d(mixed):
    root, files = mixed
    s = registry.create("datasets", "nifti-folder", {"path": str(files["4d"])})
    vols, fails = process_items(s, [], PrepContext(SHAPE, first_volume=True))
    assert not fails
    np.testing.assert_allclose(vols[0].array, brain_like(seed=20), rtol=1e-6)


def test_preprocess_folder_mixed_then_resume(mixed, tmp_path):
    root, files = mixed
    before = snapshot(root)
    dst = tmp_path / "out"
    rep = preprocess_folder(root, dst, chain=CHAIN, chain_params=CP, target_shape=SHAPE)
    assert snapshot(root) == before  # never writes into SRC
    assert rep.usable == 3 and len(rep.failures) == len(EXPECTED)
    outs = sorted(p.name for p in dst.glob("*.nii.gz"))
    assert len(outs) == 3 and not list(dst.glob(".tmp-*"))
    side = json.loads((dst / outs[0].replace(".nii.gz", ".json")).read_text())
    assert side["chain_fingerprint"] == rep.chain_fingerprint and len(side["input_sha256"]) == 64
    assert [c["plugin"] for c in side["chain"]] == CHAIN.split(",") and "SimpleITK" in side["tools"]
    img = nib.load(str(dst / outs[0]))
    assert img.shape == SHAPE and np.allclose(np.diag(img.affine)[:3], np.diag(img.affine)[:3].mean(), rtol=0.5)
    rows = list(csv.DictReader((dst / "qc.csv").open()))
    assert sum(r["status"] == "ok" for r in rows) == 3 and sum(r["status"] == "failed" for r in rows) == len(EXPECTED)
    assert (dst / "qc_montage.png").stat().st_size > 1000
    man = list(csv.DictReader((dst / "manifest.csv").open()))
    assert len(man) == 3 and all((dst / r["path"]).is_file() for r in man)
    # resume: nothing recomputed, files untouched
    mt = {p.name: p.stat().st_mtime_ns for p in dst.glob("*.nii.gz")}
    rep2 = preprocess_folder(root, dst, chain=CHAIN, chain_params=CP, target_shape=SHAPE)
    assert len(rep2.processed) == 0 and len(rep2.skipped) == 3
    assert mt == {p.name: p.stat().st_mtime_ns for p in dst.glob("*.nii.gz")}
    # a different chain is a different result: recomputed
    rep3 = preprocess_folder(root, dst, chain=CHAIN, chain_params={**CP, "scale-01": {"method": "minmax"}},
                             target_shape=SHAPE)
    assert len(rep3.processed) == 3
    # the outputs feed a manifest source and then a suite-like chain
    s = registry.create("datasets", "manifest", {"path": str(dst / "manifest.csv")})
    vols, fails = process_items(s, [registry.create("preprocessors", "scale-01")], PrepContext(SHAPE))
    assert len(vols) == 3 and not fails


def test_dst_inside_src_refused(mixed):
    root, _ = mixed
    with pytest.raises(ConfigError, match="never writes into the source"):
        preprocess_folder(root, root / "out", chain=CHAIN, chain_params=CP, target_shape=SHAPE)
    assert not (root / "out").exists()


def test_nothing_usable_is_an_error(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.nii").write_text("nope")
    with pytest.raises(DataError, match="nothing usable"):
        preprocess_folder(tmp_path / "src", tmp_path / "out", chain="scale-01", target_shape=SHAPE)


def test_cli_exit_codes(mixed, tmp_path):
    root, _ = mixed
    runner = CliRunner()
    args = ["preprocess", str(root), str(tmp_path / "o1"), "--chain", CHAIN, "--param", "crop-pad.mode=center",
            "--shape", "16,16,16", "-q"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "14 file(s) excluded" in r.output and "truncated" in r.output
    r = runner.invoke(app, args[:2] + [str(tmp_path / "o2")] + args[3:] + ["--strict"])
    assert r.exit_code == 1
    bad = tmp_path / "allbad"
    bad.mkdir()
    (bad / "a.nii.gz").write_bytes(b"\x1f\x8b garbage")
    r = runner.invoke(app, ["preprocess", str(bad), str(tmp_path / "o3"), "--chain", "scale-01", "-q"])
    assert r.exit_code == 2 and "nothing usable" in r.output
    r = runner.invoke(app, ["preprocess", str(root), str(tmp_path / "o4"), "--chain", "scale-01", "--param",
                            "scale-01.methd=x", "-q"])
    assert r.exit_code == 2 and "methd" in r.output


def test_export_phantom_then_bids_and_folder_sources(tmp_path):
    runner = CliRunner()
    out = tmp_path / "ph"
    r = runner.invoke(app, ["data", "export", "phantom", str(out), "--n", "3", "--param", "voxel_mm=6.0", "-q"])
    assert r.exit_code == 0, r.output
    files = sorted(out.glob("sub-*/anat/sub-*_T1w.nii.gz"))
    assert len(files) == 3
    ph = registry.create("datasets", "phantom", {"n_subjects": 3, "voxel_mm": 6.0})
    bids = registry.create("datasets", "bids", {"root": str(out)})
    items = bids.items()
    assert [i.subject_id for i in items] == [i.subject_id for i in ph.items()]
    assert [i.metadata for i in items] == [i.metadata for i in ph.items()]
    np.testing.assert_allclose(bids.load(items[0]).array, ph.load(ph.items()[0]).array, atol=1e-6)
    np.testing.assert_allclose(bids.load(items[0]).affine, ph.load(ph.items()[0]).affine)
    steps = [registry.create("preprocessors", n) for n in ("crop-pad", "resize", "scale-01")]
    vols, fails = process_items(registry.create("datasets", "nifti-folder", {"path": str(out)}), steps,
                                PrepContext((16, 24, 16)))
    assert len(vols) == 3 and not fails


def test_parallel_equals_serial(tmp_path):
    ph = registry.create("datasets", "phantom", {"n_subjects": 6, "voxel_mm": 6.0})
    steps = [registry.create("preprocessors", n) for n in ("crop-pad", "resize", "scale-01")]
    a, fa = process_items(ph, steps, PrepContext((16, 24, 16)), jobs=1)
    save(tmp_path / "x.nii.gz", brain_like())  # (unused: keeps tmp_path meaningful for the spawn workers)
    b, fb = process_items(ph, steps, PrepContext((16, 24, 16)), jobs=2)
    assert not fa and not fb and [v.subject_id for v in a] == [v.subject_id for v in b]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.array, y.array)
