import numpy as np
import pytest
from benchgen_data.phantom import PhantomParams, _maps, generate_subject, subject_metadata

from benchgen import registry
from benchgen.data.preprocessing import process_items
from benchgen.errors import ConfigError
from benchgen.interfaces import PrepContext

VOX = 6.0  # coarse grid: fast


def make(**kw):
    return registry.create("datasets", "phantom", {"voxel_mm": VOX, **kw})


def test_deterministic_and_independent_of_cohort_size():
    a, b = make(n_subjects=3), make(n_subjects=5)
    ia, ib = a.items(), b.items()
    assert [i.key for i in ia] == [i.key for i in ib[:3]]
    assert [i.metadata for i in ia] == [i.metadata for i in ib[:3]]
    va, vb = a.load(ia[1]), b.load(ib[1])
    np.testing.assert_array_equal(va.array, vb.array)
    assert len({i.key for i in ib}) == 5
    other = make(n_subjects=3, seed=1)
    assert not np.array_equal(other.load(other.items()[1]).array, va.array)
    assert not np.array_equal(a.load(ia[0]).array, va.array)


def test_background_zero_brain_positive_and_metadata():
    src = make(n_subjects=4, age_min=30, age_max=40, n_sites=2)
    m = _maps(VOX)
    for item in src.items():
        v = src.load(item)
        assert v.array.shape == m.shape and v.array.dtype == np.float32
        assert np.isfinite(v.array).all() and v.array.min() == 0.0
        brain = v.array > 0
        assert 0.1 < brain.mean() < 0.5  # a brain in the middle of the template box
        assert brain[m.mask.astype(bool)].mean() > 0.7
        # background round the brain (the template's brainstem reaches its lowest slice, as in MNI152)
        for ax in range(2):
            assert not np.take(v.array, [0, -1], axis=ax).any()
        assert not v.array[:, :, -1].any()
        assert 30 <= item.metadata["age"] <= 40 and item.metadata["sex"] in ("F", "M")
        assert item.metadata["site"] in ("site-0", "site-1") and item.metadata["condition"] == "healthy"
        np.testing.assert_allclose(v.affine, m.affine)


def _dark_near_ventricles(p, n=3):
    """Dark (CSF-like) voxels in a box around the lateral ventricles, summed over subjects."""
    from benchgen_data.templates import voxel_world_coords

    m = _maps(p.voxel_mm)
    xyz = voxel_world_coords(m.shape, m.affine)
    box = (np.abs(xyz[..., 0]) < 25) & (xyz[..., 1] > -45) & (xyz[..., 1] < 25) & (xyz[..., 2] > 0) & (xyz[..., 2] < 30)
    return sum(int(((a > 0) & (a < 0.5 * m.c_wm) & box).sum()) for a in (generate_subject(p, i) for i in range(n)))


def test_ventricles_grow_with_age():
    base = dict(voxel_mm=3.0, noise=0.0, deformation_mm=0.0, bias=0.0, contrast=0.0, pose_deg=0.0, pose_mm=0.0)
    young = _dark_near_ventricles(PhantomParams(age_min=20, age_max=21, **base))
    old = _dark_near_ventricles(PhantomParams(age_min=89, age_max=90, **base))
    old_no_atrophy = _dark_near_ventricles(PhantomParams(age_min=89, age_max=90, atrophy=0.0, **base))
    assert old > 1.15 * young
    assert old > 1.15 * old_no_atrophy  # the same subjects without the age effect


def test_ftd_like_loses_frontal_grey_matter():
    base = dict(voxel_mm=3.0, noise=0.0, bias=0.0, contrast=0.0, age_min=60, age_max=61)
    m = _maps(3.0)
    frontal = (m.frontal.sum(0) > 0.9) & (m.gm > 0.5)
    h = np.mean([generate_subject(PhantomParams(**base), i)[frontal].mean() for i in range(3)])
    f = np.mean([generate_subject(PhantomParams(condition="ftd-like", **base), i)[frontal].mean() for i in range(3)])
    assert f < 0.9 * h


def test_metadata_without_voxels_matches_items():
    p = PhantomParams(n_subjects=3, voxel_mm=VOX, seed=7)
    src = make(n_subjects=3, seed=7)
    assert [i.metadata for i in src.items()] == [subject_metadata(p, k) for k in range(3)]


@pytest.mark.parametrize("bad", [{"n_subjects": 0}, {"voxel_mm": 0.1}, {"age_min": 50, "age_max": 40},
                                 {"condition": "sick"}, {"noise": -1}, {"n_subject": 3}])
def test_bad_params_are_config_errors(bad):
    with pytest.raises(ConfigError):
        make(**bad)


def test_quick_chain_gives_suite_volumes():
    src = make(n_subjects=5)
    steps = [registry.create("preprocessors", n) for n in ("crop-pad", "resize", "scale-01")]
    vols, fails = process_items(src, steps, PrepContext(target_shape=(16, 24, 16)))
    assert not fails and len(vols) == 5
    for v in vols:
        assert v.array.shape == (16, 24, 16) and 0 <= v.array.min() and v.array.max() == pytest.approx(1.0)
        assert "_qc" not in v.metadata and v.metadata["condition"] == "healthy"
    assert [v.subject_id for v in vols] == [i.subject_id for i in src.items()]
