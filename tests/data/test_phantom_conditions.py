"""Mixed phantom cohorts (`conditions = {...}`), the als-like condition, and the promise that healthy-only
(and ftd-like) cohorts made before mixed cohorts existed keep their item keys and voxels bit for bit."""

import hashlib

import numpy as np
import pytest
from benchgen_data.phantom import PhantomParams, PhantomSource, _maps, generate_subject

from benchgen import registry
from benchgen.errors import ConfigError
from benchgen.params import params_to_dict

VOX = 6.0

# Recorded with the phantom as it was before `conditions`/`als-like` (commit 5412f4d), voxel_mm = 6:
# item keys and sha256 of the voxels of the first two subjects. Cached cohorts and scores depend on them.
BEFORE = {
    "healthy": (["7520721015e2337f", "4b116082ec783f77"],
                ["6c5bb61097df497a3f7449ff7c43e059fdb99a3c8c04da6c497e51c296522709",
                 "909b0c46bef31077eb6e837bc6f92eb5d8a2c5782249b87e0375e717e78764fc"]),
    "ftd-like": (["fbd417c51f3fe6d0", "ba04bb005adad560"],
                 ["6dd094c74bc853548da79058e04e7bac7092c42521a29fcbe02ca6fa6a40b38f",
                  "60d1c78b1b3f2d03c2c6cb50ff9ad35b6624ffffe4b1d24f1f7fca5e553d4d29"]),
}


def make(**kw):
    return registry.create("datasets", "phantom", {"voxel_mm": VOX, **kw})


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.mark.parametrize("condition", list(BEFORE))
def test_single_condition_cohorts_are_bit_identical_to_before(condition):
    src = make(n_subjects=2, condition=condition)
    keys, hashes = BEFORE[condition]
    assert [i.key for i in src.items()] == keys
    assert [sha(src.load(i).array) for i in src.items()] == hashes
    # the new param is not in the record while unset: suite fingerprints and cache keys stay the same
    assert "conditions" not in params_to_dict(src.params)


def test_mixed_cohort_counts_ids_metadata():
    src = make(conditions={"healthy": 4, "ftd-like": 2, "als-like": 3})
    items = src.items()
    ids = [i.subject_id for i in items]
    assert ids == ["sub-0001", "sub-0002", "sub-0003", "sub-0004", "sub-ftd0001", "sub-ftd0002",
                   "sub-als0001", "sub-als0002", "sub-als0003"]
    assert len(set(i.key for i in items)) == 9
    conds = [i.metadata["condition"] for i in items]
    assert conds == ["healthy"] * 4 + ["ftd-like"] * 2 + ["als-like"] * 3
    for i in items:
        assert set(i.metadata) >= {"age", "sex", "site", "condition"}
        if i.metadata["condition"] == "healthy":
            assert "severity" not in i.metadata
        else:
            assert 0.4 <= i.metadata["severity"] <= 1.0
    assert len({i.metadata["severity"] for i in items if "severity" in i.metadata}) == 5


def test_mixed_cohort_subjects_are_those_of_the_single_condition_cohorts():
    mixed = make(conditions={"ftd-like": 2, "healthy": 2})  # table order does not matter
    healthy, ftd = make(n_subjects=2), make(n_subjects=2, condition="ftd-like")
    by_id = {i.subject_id: i for i in mixed.items()}
    for single in (healthy, ftd):
        for item in single.items():
            twin = by_id[item.subject_id]
            assert twin.key == item.key and twin.metadata == item.metadata
            np.testing.assert_array_equal(mixed.load(twin).array, single.load(item).array)


def test_als_like_thins_the_precentral_cortex_only():
    """Ground truth: the true GM maps (template GM after atrophy, warped) of als-like subjects have less GM
    in the precentral band, as a share of their GM, than healthy ones; the frontal share is unchanged."""
    m = _maps(VOX)
    band, front = m.precentral.sum(0), m.frontal.sum(0) * (m.precentral.sum(0) < 0.1)

    def shares(condition: str) -> np.ndarray:
        p = PhantomParams(n_subjects=6, voxel_mm=VOX, condition=condition)
        gms = [generate_subject(p, i, with_gm=True)[1] for i in range(6)]
        return np.array([[(g * band).sum() / g.sum(), (g * front).sum() / g.sum()] for g in gms])

    healthy, als = shares("healthy"), shares("als-like")
    # measured: precentral share × 0.82, frontal share × 1.000 (6 subjects each, seed 0, 6 mm)
    assert als[:, 0].mean() < 0.85 * healthy[:, 0].mean()
    assert abs(als[:, 1].mean() / healthy[:, 1].mean() - 1.0) < 0.05


@pytest.mark.parametrize("params, needle", [
    ({"conditions": {"mci": 3}}, "unknown condition 'mci'; allowed: healthy, ftd-like, als-like"),
    ({"conditions": {"healthy": -1}}, "counts must be integers ≥ 0"),
    ({"conditions": {"healthy": 0}}, "at least one subject"),
    ({"conditions": {"healthy": 3}, "n_subjects": 10}, "drop n_subjects and condition"),
])
def test_bad_conditions_are_one_line_config_errors(params, needle):
    with pytest.raises(ConfigError) as exc:
        make(**params)
    assert needle in exc.value.message and "\n" not in exc.value.message


def test_als_source_label():
    src = PhantomSource(PhantomParams(voxel_mm=VOX, conditions={"als-like": 1}))
    assert src.load(src.items()[0]).source == "phantom[als-like:0]"
