import nibabel as nib
import numpy as np
import pytest
from benchgen_data.templates import load_template

from benchgen import registry
from benchgen.errors import DataError
from benchgen.interfaces import PrepContext
from benchgen.volumes import Volume

CTX = PrepContext(target_shape=(16, 24, 16))


def step(name, **params):
    s = registry.create("preprocessors", name, params)
    s.name = name
    return s


def world(affine, ijk):
    return affine[:3, :3] @ np.asarray(ijk, float) + affine[:3, 3]


def test_reorient_matches_nibabel_canonical():
    rng = np.random.default_rng(0)
    arr = rng.random((6, 7, 8)).astype(np.float32)
    aff = np.array([[0, 0, -2.0, 10], [-1.5, 0, 0, 20], [0, 3.0, 0, -5], [0, 0, 0, 1]])  # oblique-free, PIL-ish
    out = step("reorient")(Volume(arr, aff, "s"), CTX)
    ref = nib.as_closest_canonical(nib.Nifti1Image(arr, aff))
    np.testing.assert_array_equal(out.array, np.asarray(ref.dataobj))
    np.testing.assert_allclose(out.affine, ref.affine)
    assert np.all(np.diag(out.affine)[:3] > 0)


def test_resample_to_isotropic():
    arr = np.random.default_rng(1).random((10, 12, 8)).astype(np.float32)
    out = step("resample", voxel_mm=2.0)(Volume(arr, np.diag([1.0, 1.0, 4.0, 1.0]), "s"), CTX)
    np.testing.assert_allclose(np.sqrt((out.affine[:3, :3] ** 2).sum(0)), 2.0)
    assert out.array.shape[2] >= 15 and out.array.shape[0] <= 6


def test_crop_pad_mni_box_world_geometry():
    tpl = load_template(2.0)
    out = step("crop-pad")(Volume(tpl.t1, tpl.affine, "s"), CTX)
    assert out.array.shape == (90, 108, 90)  # 181×217×181 mm at 2 mm
    np.testing.assert_allclose(world(out.affine, (0, 0, 0)), (-90, -126, -72), atol=1.01)
    # voxel values stay at their world positions
    w = world(out.affine, (40, 50, 30))
    src_idx = np.linalg.solve(tpl.affine[:3, :3], w - tpl.affine[:3, 3])
    assert out.array[40, 50, 30] == tpl.t1[tuple(np.round(src_idx).astype(int))]


def test_crop_pad_center_and_target_shape():
    arr = np.arange(6 * 10 * 4, dtype=np.float32).reshape(6, 10, 4) + 1
    out = step("crop-pad", mode="center")(Volume(arr, np.eye(4), "s"), PrepContext(target_shape=(4, 12, 6)))
    assert out.array.shape == (4, 12, 6)
    np.testing.assert_array_equal(out.array[:, 1:11, 1:5], arr[1:5])
    assert out.array[:, 0].sum() == 0 and out.array[:, :, 0].sum() == 0
    np.testing.assert_allclose(world(out.affine, (0, 1, 1)), world(np.eye(4), (1, 0, 0)))


def test_mni_box_rejects_unoriented():
    aff = np.diag([-1.0, 1.0, 1.0, 1.0])
    with pytest.raises(DataError, match="reorient"):
        step("crop-pad")(Volume(np.ones((5, 5, 5), np.float32), aff, "s"), CTX)


def test_resize_shape_and_field_of_view():
    arr = np.random.default_rng(2).random((32, 48, 32)).astype(np.float32)
    aff = np.diag([2.0, 2.0, 2.0, 1.0])
    out = step("resize")(Volume(arr, aff, "s"), CTX)
    assert out.array.shape == (16, 24, 16)
    np.testing.assert_allclose(np.diag(out.affine)[:3], 4.0)
    # the outer edge of the field of view is unchanged: voxel -0.5 maps to the same world point
    np.testing.assert_allclose(world(out.affine, (-0.5,) * 3), world(aff, (-0.5,) * 3))
    # anti-aliased downsampling of a constant is that constant
    const = step("resize")(Volume(np.full((32, 48, 32), 3.0, np.float32), aff, "s"), CTX)
    np.testing.assert_allclose(const.array, 3.0, rtol=1e-5)


def test_scale_unit_percentile_and_minmax():
    rng = np.random.default_rng(3)
    arr = np.zeros((10, 10, 10), np.float32)
    arr[2:8, 2:8, 2:8] = rng.normal(5, 1, (6, 6, 6))
    out = step("scale-01")(Volume(arr, np.eye(4), "s"), CTX).array
    fg = arr != 0
    lo, hi = arr[fg].min(), np.percentile(arr[fg], 99.5)
    np.testing.assert_allclose(out[fg], np.clip((arr[fg] - lo) / (hi - lo), 0, 1), rtol=1e-5, atol=1e-6)
    assert (out[~fg] == 0).all() and out.max() == 1.0 and out.min() == 0.0
    mm = step("scale-01", method="minmax")(Volume(arr, np.eye(4), "s"), CTX).array
    np.testing.assert_allclose(mm[fg], (arr[fg] - arr[fg].min()) / np.ptp(arr[fg]), rtol=1e-5, atol=1e-6)
    # z-scored input with a zero background keeps the background at exactly 0
    z = np.where(fg, arr - 5.0, 0.0).astype(np.float32)
    zo = step("scale-01")(Volume(z, np.eye(4), "s"), CTX).array
    assert (zo[~fg] == 0).all() and zo[fg].min() == 0.0


def test_normalize_in_mask():
    arr = np.zeros((10, 10, 10), np.float32)
    arr[2:8, 2:8, 2:8] = np.random.default_rng(4).normal(7, 2, (6, 6, 6))
    out = step("normalize")(Volume(arr, np.eye(4), "s"), CTX).array
    fg = arr != 0
    assert abs(out[fg].mean()) < 1e-5 and abs(out[fg].std() - 1) < 1e-4 and (out[~fg] == 0).all()


def _ball(shape=(40, 40, 40)):
    idx = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij"))
    return idx, ((idx ** 2).sum(0) < 0.7)


def test_n4_removes_a_smooth_bias():
    idx, ball = _ball()
    bias = np.exp(0.4 * idx[0] + 0.2 * idx[1])
    arr = np.where(ball, 100.0 * bias, 0).astype(np.float32)
    out = step("n4", shrink=2, mask="nonzero")(Volume(arr, np.diag([2.0, 2, 2, 1]), "s"), CTX).array
    cv = lambda a: a[ball].std() / a[ball].mean()  # noqa: E731
    assert cv(out) < 0.3 * cv(arr)


def test_denoise_reduces_noise():
    idx, ball = _ball((30, 30, 30))
    clean = np.where(ball, 1.0 + 0.5 * (idx[0] > 0), 0).astype(np.float32)
    noisy = clean + np.where(ball, np.random.default_rng(5).normal(0, 0.1, clean.shape), 0).astype(np.float32)
    out = step("denoise-nlm")(Volume(noisy, np.eye(4), "s"), CTX).array
    assert np.abs(out - clean)[ball].mean() < 0.6 * np.abs(noisy - clean)[ball].mean()


def test_register_mni_recovers_a_shift_and_skull_strip():
    tpl = load_template(4.0)
    aff = tpl.affine.copy()
    aff[:3, 3] += [8.0, -6.0, 5.0]  # the same brain, moved in world space
    vol = Volume(tpl.t1.copy(), aff, "s")
    reg = step("register-mni", voxel_mm=4.0, working_mm=4.0, shrink_factors=[1], smoothing_mm=[0.0])(vol, CTX)
    assert reg.array.shape == (45, 54, 45)
    qc = reg.metadata["_qc"]
    assert qc["reg_ncc"] > 0.9 and abs(qc["reg_det"] - 1) < 0.05
    # registered brain lines up with the template on the MNI box grid
    ref = step("crop-pad")(Volume(tpl.t1, tpl.affine, "t"), CTX).array
    assert np.corrcoef(reg.array.ravel(), ref.ravel())[0, 1] > 0.95
    noisy = reg.replace(reg.array + 0.5)  # background no longer 0
    ss = step("skull-strip")(noisy, CTX)
    tmask = step("crop-pad")(Volume(tpl.mask.astype(np.float32), tpl.affine, "m"), CTX).array > 0.5
    inside = ss.array != 0
    assert (inside == tmask).mean() > 0.97
    assert 1000 < ss.metadata["_qc"]["brain_mask_ml"] < 2500


def test_paper_chain_config_lists_its_steps():
    p = step("paper")
    names = [s["plugin"] for s in p.config()["steps"]]
    assert names == ["reorient", "resample", "denoise-nlm", "n4", "register-mni", "skull-strip", "n4",
                     "normalize", "crop-pad", "resize"]
    assert step("paper", denoise=False).fingerprint() != p.fingerprint()
