"""Every error names its file: deep TOML nesting, truncated safetensors (checkpoints named; cohort and sample
cache entries discarded and recomputed), a state dict that no longer fits its edited JSON files, a broken
generator.json, a full disk and bad MedicalNet weights are each one line naming the file and what is right."""

from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from benchgen.atomic import atomic_path, write_text
from benchgen.cli import load_commands
from benchgen.errors import DataError, WriteError
from tests.suites import tiny_suite

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what a full disk raises: no file name


def invoke(*args: str):
    return CliRunner().invoke(load_commands(), list(args))


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output and "Error(s) in loading" not in output, output
    return lines[0]


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


# ------------------------------------------------------------------------------------------- TOML
BASE = tiny_suite("deep", generators=["noise"], dataset={"split": {"train": 0.5, "test": 0.5}, "params": None},
                  preprocessing=None, evaluation={"bootstrap": None})



@pytest.mark.parametrize("extra, profile", [
    ("[profiles.quick]\nx = " + "[" * 3000 + "]" * 3000 + "\n", "default"),
    ("[profiles.quick]\nx = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "default"),
    ("[profiles.quick.dataset.params." + ".".join(["a"] * 3000) + "]\nz = 1\n", "quick"),
], ids=["arrays", "inline-tables", "table-headers"])
def test_deep_toml_nesting_is_one_line(tmp_path, extra, profile):
    suite = tmp_path / "deep.toml"
    suite.write_text(BASE + extra)
    res = invoke("validate", str(suite), "--profile", profile)
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert f"{suite}: " in line and "nested too deeply" in line and "RecursionError" not in line


# -------------------------------------------------------------------------------- ddpm checkpoints
TINY = {"channels": [8, 16], "attention_levels": [False, True], "num_head_channels": [0, 16],
        "num_res_blocks": 1, "norm_num_groups": 8, "sampler": "ddim", "inference_steps": 2}


def ddpm_checkpoint(folder: Path) -> Path:
    """A saved tiny ddpm (random weights) with the generator.json `benchgen train` writes beside it."""
    from benchgen_ddpm.network import build_unet

    from benchgen import registry
    from benchgen.params import params_to_dict

    gen = registry.create("generators", "ddpm", TINY)
    gen._set_model(build_unet(gen.params).state_dict(), (8, 12, 8), np.eye(4))
    gen.save(folder)
    meta = {"plugin": "ddpm", "version": gen.version, "params": params_to_dict(gen.params), "label": "ddpm",
            "seed": 0, "shape": [8, 12, 8], "affine": np.eye(4).tolist()}
    (folder / "generator.json").write_text(json.dumps(meta))
    return folder


def test_a_truncated_ddpm_checkpoint_is_named(tmp_path):
    ckpt = ddpm_checkpoint(tmp_path / "ckpt")
    truncate(ckpt / "weights.safetensors")
    res = invoke("sample", str(ckpt), "-n", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert str(ckpt / "weights.safetensors") in line and "not a readable safetensors file" in line
    assert "copy it again, or train again" in res.output


def test_a_truncated_training_state_falls_back_to_the_previous_one(tmp_path):
    from benchgen_ddpm.checkpoint import load_training_state, save_training_state

    for step in (2, 4):
        save_training_state(tmp_path, step, {"model": {"w": torch.full((3,), float(step))}}, {"epoch": step})
    truncate(tmp_path / "ckpt-000000004" / "model.safetensors")
    groups, meta = load_training_state(tmp_path)
    assert meta["step"] == 2 and groups["model"]["w"].tolist() == [2.0, 2.0, 2.0]


def test_a_state_dict_that_does_not_fit_the_edited_json_files_is_one_line(tmp_path):
    ckpt = ddpm_checkpoint(tmp_path / "ckpt")
    for name, key in (("ddpm.json", "model"), ("ddpm.json", "params"), ("generator.json", "params")):
        meta = json.loads((ckpt / name).read_text())
        meta[key]["channels"] = [16, 32]  # edited consistently: the configs agree, the weights do not
        (ckpt / name).write_text(json.dumps(meta))
    res = invoke("sample", str(ckpt), "-n", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert str(ckpt / "weights.safetensors") in line and str(ckpt / "ddpm.json") in line
    assert "with other shapes" in line and "stored (8," in line


@pytest.mark.parametrize("text, why", [('{"plugin": "ddpm", "vers', "JSONDecodeError"),
                                       ('{"version": "1"}', "missing plugin"), ("[1, 2]", "missing plugin")])
def test_a_broken_generator_json_is_named(tmp_path, text, why):
    ckpt = ddpm_checkpoint(tmp_path / "ckpt")
    (ckpt / "generator.json").write_text(text)
    res = invoke("sample", str(ckpt), "-n", "1", "--out", str(tmp_path / "out"), "--quiet")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert str(ckpt / "generator.json") in line and why in line
    assert "restore it or train again" in res.output


def test_a_truncated_baseline_checkpoint_is_named(tmp_path):
    from benchgen_ddpm.testing import mni_cohort

    from benchgen import registry
    from benchgen.interfaces import FitContext

    gen = registry.create("generators", "memorizer")
    gen.fit(mni_cohort(4, (8, 12, 8), seed=0), FitContext(workdir=tmp_path / "work"))
    gen.save(tmp_path / "ckpt")
    (state,) = (tmp_path / "ckpt").glob("*.safetensors")
    truncate(state)
    with pytest.raises(DataError, match="not a readable 'memorizer' state") as info:
        registry.create("generators", "memorizer").load(tmp_path / "ckpt")
    assert str(state) in info.value.message and "\n" not in str(info.value)


# ---------------------------------------------------------------------------- the two caches
def test_damaged_cohort_and_sample_cache_entries_are_recomputed(fake_registry, suite_file, home):
    from benchgen import paths
    from benchgen.runner import run_suite
    from benchgen.suite.load import load_suite

    suite = load_suite(suite_file(), "default")
    db = home / "r.sqlite"
    first = run_suite(suite, db, quiet=True, save_samples=False)
    assert first.ok and first.computed == 4
    cohort = sorted(paths.cache_dir("datasets").glob("*.npy"))
    samples = sorted(paths.cache_dir("samples").glob("*.safetensors"))
    assert len(cohort) == 1 and len(samples) == 4  # one cohort, a sample set per generator and seed
    for f in cohort + samples:
        truncate(f)
    db.unlink()
    again = run_suite(suite, db, quiet=True, save_samples=False)
    assert again.ok and again.computed == 4, [e.message for e in again.errors]
    from safetensors.torch import load_file

    from benchgen.data.mapped import VolumeFile

    assert VolumeFile(cohort[0]).n > 0  # rewritten whole
    for f in samples:
        assert load_file(str(f))["data"].numel() > 0


# ------------------------------------------------------------------------------------ full disk
def test_a_full_disk_names_the_file(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with pytest.raises(WriteError) as info:
        with atomic_path(target) as tmp:
            Path(tmp).write_bytes(b"half")
            raise OSError(ENOSPC.errno, ENOSPC.strerror)
    err = info.value
    assert isinstance(err, OSError) and err.errno == errno.ENOSPC and err.filename == str(target)
    assert err.message == f"{target}: cannot write (No space left on device)" and "free space" in err.hint
    assert sorted(os.listdir(tmp_path / "sub")) == []  # no temporary file left behind
    again = pickle.loads(pickle.dumps(err))  # crosses the process pool intact
    assert (again.message, again.errno, again.filename) == (err.message, err.errno, err.filename)


def test_a_full_disk_while_writing_text_or_renaming(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(ENOSPC.errno, ENOSPC.strerror)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(WriteError, match="cannot write"):
        write_text(tmp_path / "a.json", "{}")
    monkeypatch.undo()
    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(WriteError, match=str(tmp_path / "b.json")):
        write_text(tmp_path / "b.json", "{}")


def test_a_full_disk_during_a_run_is_one_line_naming_the_cache_file(fake_registry, suite_file, home,
                                                                   monkeypatch):
    def full(*args, **kwargs):
        raise OSError(ENOSPC.errno, ENOSPC.strerror)

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", full)  # the cohort cache's first write
    res = invoke("run", str(suite_file()), "--profile", "default", "--quiet")
    assert res.exit_code == 2, res.output
    line = one_error_line(res.output)
    assert str(home / "cache" / "datasets") in line and "No space left on device" in line
    assert "hint: free space on that disk" in res.output


def test_a_full_disk_in_an_export_names_the_nifti_file(tmp_path, monkeypatch):
    import nibabel

    def full(*args, **kwargs):
        raise OSError(ENOSPC.errno, ENOSPC.strerror)

    monkeypatch.setattr(nibabel, "save", full)
    res = invoke("data", "export", "phantom", str(tmp_path / "out"), "--n", "2", "--quiet",
                 "--param", "voxel_mm=8.0")
    assert "No space left on device" in res.output, res.output
    assert str(tmp_path / "out") in res.output and ".nii.gz" in res.output
    assert "[Errno 28]" not in res.output


# ----------------------------------------------------------------------------------- MedicalNet
class Opaque:
    """Pickled by reference: weights_only unpickling refuses it."""


def test_bad_medicalnet_weights_are_one_line(tmp_path):
    from benchgen_metrics.features.medicalnet import load_state_dict

    files = {"random": tmp_path / "random.pth", "truncated": tmp_path / "truncated.pth",
             "pickled object": tmp_path / "object.pth"}
    files["random"].write_bytes(bytes(range(256)) * 8)
    torch.save({"w": torch.zeros(3)}, files["truncated"])
    truncate(files["truncated"])
    torch.save({"w": Opaque()}, files["pickled object"])  # not a tensor: refused unpickling
    for what, path in files.items():
        with pytest.raises(DataError) as info:
            load_state_dict(path)
        text = str(info.value)
        assert str(path) in text and "not a readable PyTorch weights file" in text, what
        assert "\n" not in text and "\x1b" not in text and len(info.value.message) < 400, (what, text)
        assert "resnet_10_23dataset.pth" in (info.value.hint or "")

