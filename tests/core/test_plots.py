import matplotlib.image as mpimg
import numpy as np
import pytest

from benchgen.plots import mid_slices, montage

SHAPE = (8, 12, 10)


def test_mid_slices_pick_the_right_planes():
    vol = np.zeros(SHAPE, dtype=np.float32)
    vol[SHAPE[0] // 2, :, :] = 1.0  # a sagittal plane: fully bright in the sagittal view only
    axial, coronal, sagittal = mid_slices(vol)
    assert sagittal.min() == 1.0 and axial.shape == (SHAPE[1], SHAPE[0])
    assert axial.mean() == pytest.approx(1 / SHAPE[0]) and coronal.mean() == pytest.approx(1 / SHAPE[0])


def test_montage_png_has_a_row_per_volume(tmp_path):
    vols = np.random.default_rng(0).random((5, *SHAPE)).astype(np.float32)
    path = montage([("real", vols), ("fake", vols[::-1])], tmp_path / "m.png", n=3)
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > img.shape[1]  # 6 rows x 3 planes
    assert not list(tmp_path.glob(".tmp-*"))  # nothing half-written left behind


def test_effect_plot_draws_a_panel_per_generator(tmp_path):
    import pytest
    from benchgen.errors import DataError
    from benchgen.plots import effect_figure, effect_plot

    effects = [("holdout", {"ftd-like": {"gm.frontal_l": {"d_real": 1.2, "d_synthetic": 1.1},
                                         "gm.occipital_l": {"d_real": 0.1, "d_synthetic": None}}}),
               ("noise", {"ftd-like": {"gm.frontal_l": {"d_real": 1.2, "d_synthetic": 0.0}}})]
    fig = effect_figure(effects)
    assert [ax.get_title() for ax in fig.axes] == ["holdout", "noise"]
    assert len(fig.axes[0].collections[0].get_offsets()) == 1  # the pair with a missing d is left out
    path = effect_plot(effects, tmp_path / "effects.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(DataError, match="no anatomy.effect details"):
        effect_figure([])
