"""benchgen.testing in-process: plugin classes that each break one rule fail exactly the check named for
it (and a correct one passes every check); results keep the plugin's traceback; the pytest helpers;
a new check is one registered function; the tiny-input helpers."""

from __future__ import annotations

import json
import pickle
import sys
import unittest
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from benchgen.interfaces import (
    DataItem,
    DatasetSource,
    FeatureExtractor,
    FitContext,
    Generator,
    Metric,
    MetricResult,
    PrepContext,
    Preprocessor,
)
from benchgen.testing import (
    CHECKS,
    SHAPE,
    Checker,
    CheckSkipped,
    ContractFailure,
    assert_passed,
    brain_like,
    check_dataset,
    check_feature,
    check_generator,
    check_metric,
    check_names,
    check_preprocessor,
    contract_check,
    no_pickles,
    run_checks,
    tiny_cohort,
)
from benchgen.volumes import Cohort, Volume


def failed(results) -> list[str]:
    return [r.name for r in results if r.failed]


# ================================================================================= generators
class GoodGen(Generator):
    """The training mean plus seeded noise: passes every generator check."""

    def __init__(self, params: Any = None):
        super().__init__(params)
        self.mean: torch.Tensor | None = None

    def fit(self, train: Cohort, ctx: FitContext) -> None:
        self.mean = train.data.mean(0, keepdim=True)

    def sample(self, n: int, seed: int, progress: Any = None) -> torch.Tensor:
        noise = torch.randn((n, *self.mean.shape[1:]), generator=torch.Generator().manual_seed(seed))
        return (self.mean + 0.1 * noise).clamp(0, 1)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"mean": self.mean.contiguous()}, str(folder / "mean.safetensors"))

    def load(self, folder: Path) -> None:
        self.mean = load_file(str(folder / "mean.safetensors"))["mean"]


class WritesIntoItsFolder(GoodGen):
    """Writes into the folder it is handed without creating it: the runner creates it first, so must the kit."""

    def save(self, folder: Path) -> None:
        save_file({"mean": self.mean.contiguous()}, str(folder / "mean.safetensors"))


class RemembersItsSaveFolder(GoodGen):
    """Loads from the folder `save` was given, not the one `load` is given: a run moves the saved folder to
    its place in the checkpoint cache, so the kit must too (and fail this one at the round trip)."""

    def save(self, folder: Path) -> None:
        super().save(folder)
        (folder / "where.json").write_text(json.dumps({"saved_in": str(folder)}))

    def load(self, folder: Path) -> None:
        super().load(Path(json.loads((folder / "where.json").read_text())["saved_in"]))


class FitRaises(GoodGen):
    def fit(self, train, ctx):
        raise ValueError("no convergence")  # THE-FIT-LINE


class NotATensor(GoodGen):
    def sample(self, n, seed, progress=None):
        return super().sample(n, seed).numpy()


class WrongShape(GoodGen):
    def sample(self, n, seed, progress=None):
        return super().sample(n, seed)[:, :, :-1]


class Float64(GoodGen):
    def sample(self, n, seed, progress=None):
        return super().sample(n, seed).double()


class OutOfRange(GoodGen):
    def sample(self, n, seed, progress=None):
        return super().sample(n, seed) * 2 - 1  # [-1, 1], not converted


class WithNaN(GoodGen):
    def sample(self, n, seed, progress=None):
        x = super().sample(n, seed)
        x[:, :, 0] = float("nan")
        return x


class Constant(GoodGen):
    def sample(self, n, seed, progress=None):
        return torch.full((n, 1, *self.mean.shape[2:]), 0.5)


class Unseeded(GoodGen):
    def sample(self, n, seed, progress=None):
        return (self.mean + 0.1 * torch.randn((n, *self.mean.shape[1:]))).clamp(0, 1)


class SeedIgnored(GoodGen):
    def sample(self, n, seed, progress=None):
        return super().sample(n, 0)


class Pickles(GoodGen):
    def save(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "state.pkl").write_bytes(pickle.dumps({"mean": self.mean.numpy()}))

    def load(self, folder):
        self.mean = torch.from_numpy(pickle.loads((folder / "state.pkl").read_bytes())["mean"])


class Forgetful(GoodGen):
    def save(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "empty.json").write_text("{}")

    def load(self, folder):
        self.mean = torch.zeros((1, 1, *SHAPE))


class BadSamplerInfo(GoodGen):
    def sampler_info(self):
        return {"when": object()}


@dataclass(frozen=True)
class TempParams:
    temperature: float = 1.0


class BadConfig(GoodGen):
    Params = TempParams

    def config(self):
        return {"plugin": self.name, "version": self.version, "params": {"temperature": "hot"}}


@pytest.mark.parametrize("cls,expected", [
    (GoodGen, []),
    (WritesIntoItsFolder, []),
    (RemembersItsSaveFolder, ["save_load_round_trip"]),
    (FitRaises, ["fit"]),
    (NotATensor, ["sample"]),
    (WrongShape, ["sample_shape"]),
    (Float64, ["sample_dtype"]),
    (OutOfRange, ["sample_range"]),
    (WithNaN, ["sample_finite"]),
    (Constant, ["sample_not_constant", "seeds_differ"]),
    (Unseeded, ["deterministic_for_seed"]),
    (SeedIgnored, ["seeds_differ"]),
    (Pickles, ["checkpoint_no_pickles"]),
    (Forgetful, ["save_load_round_trip"]),
    (BadSamplerInfo, ["sampler_info_json"]),
    (BadConfig, ["save_load_round_trip", "config_json"]),  # the fresh instance is built from config()
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_each_broken_generator_fails_exactly_its_check(cls, expected):
    results = check_generator(cls)
    assert [r.name for r in results] == check_names("generators")
    assert failed(results) == expected, [(r.name, r.status, r.message) for r in results if not r.passed]
    assert not [r for r in results if r.skipped and not r.message.startswith("not run: needs")]


def test_the_kit_saves_and_loads_a_generator_the_way_a_run_does():
    """One path for save and load: the kit's checkpoint is the folder `save_fitted` makes in a run (the plugin's
    files, a generator.json whose weights checksum matches them), and `load_fitted` checks that checksum."""
    import benchgen.fit.fit as run_fit
    import benchgen.testing.checks.generators as kit
    from benchgen.checkpoint import GENERATOR_FILE, WEIGHTS_KEY, checkpoint_sha256
    from benchgen.errors import DataError
    from benchgen.fit import saving

    assert kit.save_fitted is saving.save_fitted is run_fit.save_fitted
    assert kit.load_fitted is saving.load_fitted is run_fit.load_fitted
    with Checker("generators", WritesIntoItsFolder) as checker:
        checker.expect("save_load_round_trip")
        folder = checker.workdir / "checkpoint"
        meta = json.loads((folder / GENERATOR_FILE).read_text())
        assert meta[WEIGHTS_KEY] == checkpoint_sha256(folder) and meta["shape"] == list(SHAPE)
        assert sorted(p.name for p in folder.iterdir()) == [GENERATOR_FILE, "mean.safetensors"]
        assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp-")]
        (folder / "mean.safetensors").write_bytes(b"changed")
        with pytest.raises(DataError, match="its weights changed since they were saved"):
            saving.load_fitted(WritesIntoItsFolder(), folder)


def test_a_failing_fit_keeps_the_plugins_traceback_and_skips_what_needs_it():
    results = {r.name: r for r in check_generator(FitRaises, name="fit-raises")}
    fit = results["fit"]
    line = next(i for i, text in enumerate(Path(__file__).read_text().splitlines(), 1) if "THE-FIT-LINE" in text)
    assert fit.message == f"fit() raised ValueError: no convergence (kit/test_kit_checks.py:{line} in fit)"
    assert fit.traceback.startswith("Traceback (most recent call last):")
    assert f'test_kit_checks.py", line {line}, in fit' in fit.traceback
    assert "benchgen/testing" not in fit.traceback  # starts at the plugin's frame
    assert fit.traceback.rstrip().endswith("ValueError: no convergence")
    assert results["sample"].message == "not run: needs 'fit', which failed"
    assert results["seeds_differ"].message == "not run: needs 'fit', which failed"  # the first check that failed
    assert results["config_json"].passed  # needs only build
    assert json.dumps([r.to_dict() for r in results.values()])


def test_expect_raises_a_contract_failure_chained_to_the_plugins_exception():
    with Checker("generators", FitRaises) as checker:
        assert checker.expect("build").passed
        with pytest.raises(ContractFailure) as info:
            checker.expect("fit")
        assert isinstance(info.value, AssertionError)
        assert info.value.check == "fit" and "generator 'FitRaises': fit() raised ValueError" in str(info.value)
        assert isinstance(info.value.__cause__, ValueError)
        with pytest.raises(pytest.skip.Exception, match="not run: needs 'fit', which failed"):
            checker.expect("sample_shape")
        with pytest.raises(Exception, match="no generator check named 'sample_size'"):
            checker.run("sample_size")


def test_assert_passed_names_every_failed_check():
    with pytest.raises(ContractFailure) as info:
        assert_passed(check_generator(Constant))
    assert info.value.check == "sample_not_constant, seeds_differ"
    assert "FAIL sample_not_constant: every sample value is the same constant" in str(info.value)
    assert_passed(check_generator(GoodGen))


def test_params_update_tiny_params_and_shape_is_honoured():
    results = run_checks("generators", "gaussian", {"rank": 2}, shape=(6, 8, 6))
    assert failed(results) == []
    build = next(r for r in results if r.name == "build")
    assert "'rank': 2" in build.message
    sample = next(r for r in results if r.name == "sample")
    assert sample.message == "4×1×6×8×6 float32"


def test_a_check_can_be_added_with_one_registered_function(monkeypatch):
    """How a later check (e.g. conditional sampling) joins the list: one function, its requirements first."""
    monkeypatch.setitem(CHECKS, "generators", list(CHECKS["generators"]))
    seen = []

    @contract_check("generators", "sample_mean_near_train", requires=("sample",))
    def near(h: Checker) -> str:
        """The samples' mean intensity is within 0.2 of the training set's."""
        gap = abs(float(h.memo("samples", lambda: None).mean()) - float(h.cohorts["train"].data.mean()))
        seen.append(h.name)
        h.require(gap < 0.2, f"mean gap {gap:.3f}")
        return f"gap {gap:.3f}"

    assert check_names("generators")[-1] == "sample_mean_near_train"
    results = {r.name: r for r in check_generator(GoodGen)}
    assert results["sample_mean_near_train"].passed and results["sample_mean_near_train"].message.startswith("gap ")
    assert {r.name: r for r in check_generator(OutOfRange)}["sample_mean_near_train"].failed
    assert {r.name: r for r in check_generator(FitRaises)}["sample_mean_near_train"].skipped
    assert seen == ["GoodGen", "OutOfRange"]
    with pytest.raises(ValueError, match="already registered"):
        contract_check("generators", "fit")(near)
    with pytest.raises(ValueError, match="requires \\['no_such_check'\\]"):
        contract_check("generators", "another", requires=("no_such_check",))(near)


def test_a_checker_cleans_up_its_temporary_folder():
    with Checker("generators", GoodGen) as checker:
        checker.run_all()
        work = checker.workdir
        assert (work / "checkpoint").is_dir()
    assert not work.exists()


def test_a_plugin_of_the_wrong_kind_fails_import():
    results = check_metric(GoodGen)
    assert failed(results) == ["import"] and "not a subclass of benchgen.interfaces.Metric" in results[0].message
    assert all(r.skipped for r in results[1:])


# ==================================================================================== metrics
class GoodMetric(Metric):
    higher_is_better = False

    def score(self, synthetic, real, train, ctx):
        gap = float(abs(synthetic.data.mean() - real.data.mean()))
        rng = np.random.default_rng(ctx.seed)
        boots = sorted(gap + rng.normal(0, 0.01, 20))
        return MetricResult(gap, (boots[0], boots[-1]))


class UnseededCI(GoodMetric):
    def score(self, synthetic, real, train, ctx):
        res = super().score(synthetic, real, train, ctx)
        res.ci = (res.value - np.random.random(), res.value + 1)
        return res


class NaNValue(GoodMetric):
    def score(self, synthetic, real, train, ctx):
        return {"a": MetricResult(1.0), "b": MetricResult(float("nan"))}


class PlainFloat(GoodMetric):
    def score(self, synthetic, real, train, ctx):
        return 0.5


class SkipWithoutMessage(GoodMetric):
    def score(self, synthetic, real, train, ctx):
        return MetricResult(None, status="skipped")


class BadMetadata(GoodMetric):
    higher_is_better = "yes"  # type: ignore[assignment]


class NeedsTrain(GoodMetric):
    needs_train = True

    def score(self, synthetic, real, train, ctx):
        assert train is not None and len(train) == 10
        return super().score(synthetic, train, None, ctx)


@pytest.mark.parametrize("cls,expected", [
    (GoodMetric, []), (NeedsTrain, []), (UnseededCI, ["deterministic_for_seed"]), (NaNValue, ["result_values"]),
    (PlainFloat, ["score"]), (SkipWithoutMessage, ["result_values"]), (BadMetadata, ["metadata"]),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_each_broken_metric_fails_exactly_its_check(cls, expected):
    assert failed(check_metric(cls)) == expected


# ============================================================================== preprocessors
@dataclass(frozen=True)
class GainParams:
    gain: float = 2.0
    clip: bool = False


class GoodStep(Preprocessor):
    Params = GainParams

    def __call__(self, volume: Volume, ctx: PrepContext) -> Volume:
        return volume.replace(volume.array * self.params.gain)


class InPlace(GoodStep):
    def __call__(self, volume, ctx):
        volume.array *= self.params.gain
        return volume.replace(volume.array)


class DropsMetadata(GoodStep):
    def __call__(self, volume, ctx):
        return Volume(volume.array * 2, volume.affine, "anonymous")


class Noisy(GoodStep):
    def __call__(self, volume, ctx):
        return volume.replace(volume.array + np.random.random(volume.array.shape))


class Infinite(GoodStep):
    def __call__(self, volume, ctx):
        return volume.replace(np.full_like(volume.array, np.inf))


class TwoD(GoodStep):
    def __call__(self, volume, ctx):
        return volume.replace(volume.array[0])


class ReturnsArray(GoodStep):
    def __call__(self, volume, ctx):
        return volume.array


class FixedFingerprint(GoodStep):
    def fingerprint(self):
        return "0" * 64


@pytest.mark.parametrize("cls,expected", [
    (GoodStep, []), (InPlace, ["input_untouched"]), (DropsMetadata, ["keeps_subject_and_metadata"]),
    (Noisy, ["deterministic"]), (Infinite, ["output_finite"]), (TwoD, ["output_volume"]), (ReturnsArray, ["apply"]),
    (FixedFingerprint, ["fingerprint_follows_params"]),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_each_broken_preprocessor_fails_exactly_its_check(cls, expected):
    assert failed(check_preprocessor(cls)) == expected


# =================================================================================== datasets
class GoodSource(DatasetSource):
    def items(self):
        return [DataItem(f"sub-{i}", key=f"k{i}", metadata={"age": 30 + i}) for i in range(3)]

    def load(self, item):
        i = int(item.subject_id[4:])
        return Volume(brain_like(1, i, (6, 7, 6))[0, 0].numpy(), np.eye(4), item.subject_id, dict(item.metadata))


class DuplicateKeys(GoodSource):
    def items(self):
        return [DataItem(f"sub-{i}", key="same") for i in range(3)]


class DuplicateSubjects(GoodSource):
    def items(self):
        return [DataItem("sub-1", key=f"k{i}") for i in range(3)]


class Blank(GoodSource):
    def load(self, item):
        return Volume(np.zeros((6, 7, 6), np.float32), np.eye(4), item.subject_id)


class Singular(GoodSource):
    def load(self, item):
        vol = super().load(item)
        return Volume(vol.array, np.diag([1.0, 0.0, 1.0, 1.0]), vol.subject_id)


class RandomLoad(GoodSource):
    def load(self, item):
        vol = super().load(item)
        return vol.replace(vol.array + np.random.random(vol.array.shape).astype(np.float32))


class ShuffledItems(GoodSource):
    def items(self):
        items = super().items()
        np.random.shuffle(items)
        return items + [DataItem(f"sub-{len(items) + np.random.randint(9)}", key=f"x{np.random.random()}")]


class Empty(GoodSource):
    def items(self):
        return []


@dataclass(frozen=True)
class RootParams:
    root: str


class NeedsRoot(GoodSource):
    Params = RootParams


@pytest.mark.parametrize("cls,expected", [
    (GoodSource, []), (DuplicateKeys, ["unique_keys"]), (DuplicateSubjects, ["unique_subject_ids"]),
    (Blank, ["volume_values"]), (Singular, ["affine_invertible"]), (RandomLoad, ["load_deterministic"]),
    (ShuffledItems, ["items_stable"]), (Empty, ["items"]),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_each_broken_dataset_fails_exactly_its_check(cls, expected):
    assert failed(check_dataset(cls)) == expected


def test_a_dataset_with_required_file_params_is_skipped_with_the_reason_or_checked_when_given(tmp_path):
    results = check_dataset(NeedsRoot)
    build = results[1]
    assert build.skipped and "needs files named by required params ['root']" in build.message
    assert not failed(results)
    assert failed(check_dataset(NeedsRoot, {"root": str(tmp_path)})) == []


# =================================================================================== features
class GoodFeatures(FeatureExtractor):
    def extract(self, volumes, device="cpu"):
        x = volumes.reshape(len(volumes), -1).double()
        return torch.stack([x.mean(1), x.std(1)], 1).numpy()


class Float32Features(GoodFeatures):
    def extract(self, volumes, device="cpu"):
        return super().extract(volumes).astype(np.float32)


class BatchNormalised(GoodFeatures):
    def extract(self, volumes, device="cpu"):
        x = super().extract(volumes)
        return x - x.mean(0)


class ConstantFeatures(GoodFeatures):
    def extract(self, volumes, device="cpu"):
        return np.ones((len(volumes), 3))


class OneRow(GoodFeatures):
    def extract(self, volumes, device="cpu"):
        return super().extract(volumes)[:1]


class BadDigest(GoodFeatures):
    def weights_sha256(self):
        return "md5:abc"


class MissingWeights(GoodFeatures):
    def extract(self, volumes, device="cpu"):
        from benchgen.errors import MissingWeightsError
        raise MissingWeightsError("weights.pth not found: put it in ~/.benchgen/weights/")


@pytest.mark.parametrize("cls,expected", [
    (GoodFeatures, []), (Float32Features, ["output_dtype"]), (BatchNormalised, ["no_batch_effects"]),
    (ConstantFeatures, ["not_constant"]), (OneRow, ["output_shape"]), (BadDigest, ["weights_sha256"]),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_each_broken_feature_extractor_fails_exactly_its_check(cls, expected):
    assert failed(check_feature(cls)) == expected


def test_missing_weights_skip_with_the_reason(monkeypatch):
    results = {r.name: r for r in check_feature(MissingWeights)}
    assert results["extract"].skipped
    assert results["extract"].message == ("needs weights that are not on this machine: "
                                          "weights.pth not found: put it in ~/.benchgen/weights/")
    assert results["output_dtype"].message == "not run: needs 'extract', which was skipped"
    assert not failed(results.values())
    with Checker("features", MissingWeights) as checker:
        with pytest.raises(pytest.skip.Exception, match="check 'extract' skipped: needs weights"):
            checker.expect("extract")  # under pytest: pytest's skip
        monkeypatch.delitem(sys.modules, "pytest")
        with pytest.raises(CheckSkipped) as info:  # elsewhere: a unittest.SkipTest
            checker.expect("extract")
        assert isinstance(info.value, unittest.SkipTest)


# =============================================================================== input helpers
def test_tiny_inputs_are_seeded_brain_like_and_shaped():
    a, b = brain_like(3, 5), brain_like(3, 5)
    assert a.shape == (3, 1, *SHAPE) and a.dtype == torch.float32 and torch.equal(a, b)
    assert float(a.min()) == 0.0 and float(a.max()) <= 1.0 and float(a.std()) > 0
    assert not torch.equal(a, brain_like(3, 6))
    cohort = tiny_cohort(4, 1, "train", (6, 8, 6))
    assert cohort.shape == (6, 8, 6) and cohort.subject_ids == ["train-00", "train-01", "train-02", "train-03"]
    assert cohort.metadata[1] == {"age": 41.0, "sex": "F"}


def test_no_pickles_finds_pickles_and_torch_save_files(tmp_path):
    (tmp_path / "sub").mkdir()
    torch.save({"w": torch.zeros(2)}, tmp_path / "sub" / "model.pt")
    (tmp_path / "state.pkl").write_bytes(pickle.dumps([1, 2]))
    save_file({"w": torch.zeros(2)}, str(tmp_path / "ok.safetensors"))
    (tmp_path / "ok.json").write_text("{}")
    assert sorted(no_pickles(tmp_path)) == sorted(no_pickles(str(tmp_path))) == ["model.pt", "state.pkl"]
