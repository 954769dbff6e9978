import math

import matplotlib.image as mpimg
import numpy as np
import pytest

from benchgen.figures import mid_slices, montage

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

    from benchgen.board.plots import effect_figure, effect_plot
    from benchgen.errors import DataError

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


def _utility_records():
    from dataclasses import asdict

    from tests.core.test_store import make_record

    rows = {  # generator -> metric -> (value, lo, hi); None: skipped
        "holdout": {"utility": (0.04, 0.01, 0.07), "frd": (3.0, 0.0, 6.0), "memorization.copies": (0.0, 0.0, 0.02)},
        "ddpm": {"utility": (-0.02, -0.05, 0.01), "frd": (900.0, 700.0, 1100.0),
                 "memorization.copies": (0.1, 0.05, 0.15)},
        "noise": {"utility": None, "frd": (9000.0, 8800.0, 9200.0), "memorization.copies": (0.0, 0.0, 0.0)},
    }
    out = []
    for gen, mets in rows.items():
        for m, v in mets.items():
            status, (value, lo, hi) = ("skipped", (None, None, None)) if v is None else ("ok", v)
            out.append(asdict(make_record(f"{gen}-{m}", generator=gen, generator_plugin=gen, metric=m,
                                          metric_plugin={"frd": "fid"}.get(m, m.split(".")[0]),
                                          higher_is_better=m == "utility",
                                          value=value, ci_low=lo, ci_high=hi, status=status, primary_metric="utility")))
    return out


def test_tradeoff_plot_puts_utility_against_fidelity_and_memorization(tmp_path):
    from benchgen.board.build import build_boards
    from benchgen.board.plots import tradeoff_figure, tradeoff_plot
    from benchgen.board.report import tradeoff_columns

    records = _utility_records()
    [board] = build_boards(records)
    utility, others = tradeoff_columns(board, records)
    assert (utility, others) == ("utility", ["frd", "memorization.copies"])
    fig = tradeoff_figure(board, utility, others)
    assert [ax.get_xlabel() for ax in fig.axes] == ["frd ↓", "memorization.copies ↓"]
    assert all(ax.get_ylabel() == "utility ↑" for ax in fig.axes)
    assert [len(ax.containers) for ax in fig.axes] == [2, 2]  # one error-bar point per row with a utility value
    assert "(no utility: noise)" in fig._suptitle.get_text()
    x, y = fig.axes[0].containers[1].lines[0].get_data()  # ddpm: frd 900, ΔAUC -0.02
    assert (float(x[0]), float(y[0])) == (900.0, -0.02)
    path = tradeoff_plot(board, tmp_path / "tradeoff.png", utility, others)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob(".tmp-*"))


def test_no_tradeoff_plot_without_a_utility_column():
    from benchgen.board.build import build_boards
    from benchgen.board.report import tradeoff_columns

    records = [r for r in _utility_records() if r["metric"] != "utility"]
    [board] = build_boards(records)
    assert tradeoff_columns(board, records) is None


def test_tradeoff_axes_are_chosen_by_kind_and_direction():
    """Installed plugins' kinds: the primary metric when it is a fidelity one, else a single-result fidelity
    column before PRDC's sub-results; a share of copies (↓) before AuthPct (≈ the real set's value)."""
    from dataclasses import asdict

    from benchgen.board.build import build_boards
    from benchgen.board.report import tradeoff_columns
    from tests.core.test_store import make_record

    def board(primary, columns):
        recs = [asdict(make_record(f"{g}-{m}", generator=g, metric=m, metric_plugin=m.split(".")[0],
                                   higher_is_better=m != "memorization.copies", value=v, ci_low=v - 1,
                                   ci_high=v + 1, primary_metric=primary,
                                   reference=50.0 if m == "memorization.authpct" else None))
                for g, v in (("a", 1.0), ("b", 2.0)) for m in columns]
        return build_boards(recs)[0], recs

    cols = ["utility", "memorization.authpct", "memorization.copies", "prdc.precision", "mmd", "kid"]
    assert tradeoff_columns(*board("utility", cols)) == ("utility", ["mmd", "memorization.copies"])
    assert tradeoff_columns(*board("kid", cols)) == ("utility", ["kid", "memorization.copies"])
    assert tradeoff_columns(*board("utility", cols[:4])) == ("utility", ["prdc.precision", "memorization.copies"])


def test_pareto_front_keeps_the_points_nothing_beats_on_both():
    from benchgen.board.plots import pareto_front

    # (seconds, badness): c is slower and worse than b; e ties d's time but is worse; a and f trade off
    points = {"a": (0.1, 5.0), "b": (1.0, 2.0), "c": (2.0, 3.0), "d": (10.0, 1.0), "e": (10.0, 1.5),
              "f": (0.1, 6.0), "g": (30.0, 1.0)}
    front = pareto_front(list(points.values()))
    assert [list(points)[i] for i in front] == ["a", "b", "d"]  # f: as fast as a but worse; g: as good as d, slower
    assert pareto_front([(1.0, 1.0), (1.0, 1.0)]) == [0, 1]  # equal points do not dominate each other
    with pytest.raises(Exception, match="finite"):
        pareto_front([(math.nan, 1.0)])


def _sampler_records():
    from dataclasses import asdict

    from tests.core.test_store import make_record

    rows = {  # generator -> (sampler, steps, evaluations, s/volume, mmd value, lo, hi)
        "holdout": ("copy", None, None, 1e-4, 0.1, -0.2, 0.4),
        "ddpm": ("ddpm", 1000, None, 12.0, 1.0, 0.5, 1.5),
        "ddim-10": ("ddim", 10, None, 0.12, 4.0, 3.0, 5.0),
        "ddim-50": ("ddim", 50, None, 0.6, 1.1, 0.6, 1.6),
        "pndm-10": ("pndm", 10, 19, 0.23, 5.0, 4.0, 6.0),  # slower and worse than ddim-10: off the front
        "pndm-25": ("pndm", 25, 34, 0.41, 6.0, 5.0, 7.0),
        "noise": ("iid-uniform", None, None, 1e-5, 900.0, 890.0, 910.0),
    }
    out = []
    for gen, (name, steps, evals, spv, value, lo, hi) in rows.items():
        sampler = {"sampler": name, "seconds_per_volume": spv, "timed_on": "cpu", "timed_threads": 2}
        if steps is not None:
            sampler["inference_steps"] = steps
        if evals is not None:
            sampler["network_evaluations"] = evals
        out.append(asdict(make_record(f"{gen}-mmd", generator=gen, generator_plugin=gen, metric="mmd", sampler=sampler,
                                      metric_plugin="mmd", value=value, ci_low=lo, ci_high=hi, primary_metric="mmd")))
    return out


def test_pareto_plot_of_samplers_against_seconds_per_volume(tmp_path):
    from benchgen.board.build import build_boards
    from benchgen.board.plots import pareto_figure, pareto_plot, pareto_points
    from benchgen.board.report import pareto_column

    [board] = build_boards(_sampler_records())
    assert pareto_column(board) == "mmd"
    samplers, others = pareto_points(board, "mmd")
    assert [g for g, _, _ in samplers] == ["ddpm", "ddim-50", "ddim-10", "pndm-10", "pndm-25"]  # board order
    assert [g for g, _ in others] == ["holdout", "noise"]  # no steps: not samplers on the front
    fig = pareto_figure(board)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "mmd ↓ (95% interval)"
    front = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    assert [float(v) for v in front.get_xdata()] == [0.12, 0.6, 12.0]  # ddim-10, ddim-50, ddpm
    labels = {t.get_text() for t in ax.texts}
    assert {"ddpm", "ddim-10", "pndm-25", "holdout (no sampler)"} <= labels
    assert "off the scale: noise 900" in ax.get_title()
    path = pareto_plot(board, tmp_path / "pareto.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob(".tmp-*"))


def test_no_pareto_plot_for_a_board_that_does_not_compare_samplers():
    from benchgen.board.build import build_boards
    from benchgen.board.report import pareto_column

    one = [r for r in _sampler_records() if r["generator"] in ("holdout", "ddpm", "noise")]
    [board] = build_boards(one)  # one DDPM beside baselines (healthy_t1): no sampler table, no Pareto plot
    assert pareto_column(board) is None


def test_metric_axes_are_readable_near_zero_for_fractions_and_with_a_far_off_row():
    """Fractions on 0–1 with quarter ticks; a far-off row (noise) on a symmetric-log axis with a round
    threshold and at most six plain tick labels; one title per figure (none on a one-metric figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchgen.board.plots import metric_figure, readable_axis

    fig, ax = plt.subplots()
    readable_axis(ax, [0.0, 0.0, 0.115, 1.0])  # memorization.copies: the old symlog piled up 1e-12… ticks
    assert list(ax.get_xticks()) == [0.0, 0.25, 0.5, 0.75, 1.0] and ax.get_xscale() == "linear"
    fig2, ax2 = plt.subplots()
    readable_axis(ax2, [-0.119, -4.32, 5.51, 0.501, 2.24, 10.3, 1158.0, 1142.0, 1173.0])  # mmd with noise
    assert ax2.get_xscale() == "symlog"
    fig2.canvas.draw()
    labels = [t.get_text() for t in ax2.get_xticklabels() if t.get_text()]
    assert labels == ["0", "20", "100", "1000"], labels
    fig3, ax3 = plt.subplots()
    readable_axis(ax3, [0.247, -0.763, 7.23, 1802.0, 398.0, 9482.0, 1.93e7, 9.91e6, 4.86e7])  # kid
    fig3.canvas.draw()
    labels = [t.get_text() for t in ax3.get_xticklabels() if t.get_text()]
    assert len(labels) <= 6 and labels[0] == "0" and "1e7" in labels and all(len(t) <= 5 for t in labels), labels
    from benchgen.board.build import build_boards
    from tests.core.boards import healthy_records

    board = build_boards(healthy_records())[0]
    assert metric_figure(board)._suptitle is not None  # several panels: one title for the figure
    assert metric_figure(board, ["mmd"])._suptitle is None  # the results page's one-metric figures: none
    plt.close("all")
