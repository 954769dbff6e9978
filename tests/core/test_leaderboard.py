import math

import pytest

from benchgen.board.build import build_boards, t_interval
from benchgen.board.render import render_html
from tests.core.test_store import make_record


def test_t_interval_matches_textbook_values():
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    # sd = 1, n = 3, t(0.975, 2) = 4.302653
    assert mean == 2.0 and hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6) and mean - lo == hi - mean


def _recs():
    from dataclasses import asdict

    out = []
    for gen, vals in {"a": [0.2, 0.4], "b": [0.1, 0.1], "c": [0.35, None]}.items():
        for seed, v in enumerate(vals):
            st = "ok" if v is not None else "error"
            out.append(asdict(make_record(f"{gen}{seed}", generator=gen, seed=seed, value=v, status=st,
                                          message=None if v is not None else "boom")))
    return out


def test_rank_direction_and_mixed_status():
    board = build_boards(_recs())[0]
    assert [r[0] for r in board.rows] == ["b", "a", "c"]  # lower is better; c has one good seed of two
    cells = {r[0]: r[2]["m"] for r in board.rows}
    assert cells["a"].mean == pytest.approx(0.3) and cells["a"].n == 2
    assert cells["c"].status == "mixed" and cells["c"].mean == 0.35 and cells["c"].lo == 0.4  # one seed: its CI
    recs = _recs()
    for r in recs:
        r["higher_is_better"] = True
    assert [r[0] for r in build_boards(recs)[0].rows] == ["c", "a", "b"]


def test_boards_never_mix_profiles_or_configs():
    recs = _recs()
    recs[0]["profile"] = "other"
    boards = build_boards(recs)
    assert sorted(b.profile for b in boards) == ["other", "p"]
    recs = _recs()
    recs.append({**recs[0], "cell_key": "new", "generator_config_hash": "h2", "value": 9.0})
    board = build_boards(recs)[0]
    a = next(r for r in board.rows if r[0] == "a")
    assert a[2]["m"].mean == 9.0 and board.ignored == 2
    assert "<table class='board'>" in render_html([board])


# ------------------------------------------------------------------------- honest intervals, layout
def _one_seed(values: dict[str, tuple[float | None, float, float]], metric: str = "m", **kw) -> list[dict]:
    from dataclasses import asdict

    return [asdict(make_record(f"{g}-{metric}", generator=g, metric=metric, value=v, ci_low=lo, ci_high=hi,
                               status="ok" if v is not None else "error", **kw))
            for g, (v, lo, hi) in values.items()]


def _renders(boards) -> dict[str, str]:
    import io

    from rich.console import Console

    from benchgen.board.render import render_markdown, render_table

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_table(boards, width=200))
    return {"table": console.export_text(), "markdown": render_markdown(boards), "html": render_html(boards)}


def test_asymmetric_interval_renders_as_value_and_bounds_everywhere():
    import json

    from benchgen.board.render import render_csv, render_json
    from benchgen.cli.evaluate import render_table as evaluate_table

    boards = build_boards(_one_seed({"inside": (20.0, 11.5, 61.2), "biased": (10.1, 11.5, 61.2)}))
    for name, text in _renders(boards).items():
        assert "20 [11.5, 61.2]" in text, name
        assert "10.1† [11.5, 61.2]" in text and "±" not in text, name
        legend = ("† value outside its interval (small-sample bias)" if name == "table"
                  else "† the value lies outside its bootstrap interval")  # documents keep the full legend
        assert legend in " ".join(text.split()), name
    cells = {c["generator"]: c for c in json.loads(render_json(boards))["cells"]}
    assert (cells["biased"]["ci_low"], cells["biased"]["ci_high"], cells["biased"]["outside_ci"]) == (11.5, 61.2, True)
    assert cells["inside"]["outside_ci"] is False and "outside_ci" in render_csv(boards).splitlines()[0]
    result = {"n_real": 5, "n_synthetic": 5, "metrics": {
        "m": {"value": 10.1, "ci": [11.5, 61.2], "reference": None, "higher_is_better": False, "status": "ok",
              "message": None}}}
    import io

    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(evaluate_table(result))
    assert "10.1† [11.5, 61.2]" in console.export_text()


def test_no_renderer_prints_a_value_outside_its_interval_unmarked():
    import random
    import re

    from tests.core.boards import healthy_records

    rng = random.Random(0)
    recs = healthy_records()
    for r in recs:  # noisy magnitudes and intervals, some excluding their value
        scale = 10 ** rng.uniform(-4, 5)
        v = rng.uniform(-1, 1) * scale
        r.update(value=v, ci_low=v + rng.uniform(-1, 0.3) * scale, ci_high=v + rng.uniform(-0.3, 1) * scale,
                 seed=0, cell_key=r["cell_key"] + "x")
    cell = re.compile(r"(-?[\d.]+(?:e[+-]\d+)?)(†?) \[(-?[\d.]+(?:e[+-]\d+)?), (-?[\d.]+(?:e[+-]\d+)?)\]")
    checked = 0
    for name, text in _renders(build_boards(recs) + build_boards(healthy_records())).items():
        for v, mark, lo, hi in cell.findall(text):
            checked += 1
            assert mark or float(lo) <= float(v) <= float(hi), (name, v, lo, hi)
            assert not mark or not float(lo) <= float(v) <= float(hi), (name, v, lo, hi)
    assert checked > 100


def test_a_column_with_a_reference_ranks_by_distance_to_it():
    recs = _one_seed({"collapsed": (0.99, 0.98, 1.0), "close": (0.91, 0.9, 0.92), "noisy": (0.5, 0.4, 0.6)},
                     metric="ms-ssim", primary_metric="ms-ssim", reference=0.9)
    board = build_boards(recs)[0]
    assert [r[0] for r in board.rows] == ["close", "collapsed", "noisy"]  # not lower-is-better
    assert board.direction("ms-ssim") == "closest" and board.best("ms-ssim") == {"close"}
    text = _renders([board])
    assert all("ms-ssim ≈" in t for t in text.values())
    assert "≈ closest to the real set is better" in " ".join(text["table"].split())
    assert "≈ closest to the real (test split) row is best" in " ".join(text["html"].split())
    assert "≈ closest to the real (test split) row is best" in " ".join(text["markdown"].split())


def test_a_row_whose_cells_all_errored_gets_no_rank():
    board = build_boards(_one_seed({"ok": (0.3, 0.2, 0.4), "broken": (None, 0, 0), "ok2": (0.5, 0.45, 0.6)}))[0]
    assert [r[0] for r in board.rows] == ["ok", "ok2", "broken"] and board.ranks() == ["1", "2", ""]
    md = _renders([board])["markdown"]
    assert "|  | broken | error |" in md and "| 2 | ok2 |" in md


def test_the_healthy_quick_board_fits_100_columns():
    import io

    from rich.console import Console

    from benchgen.board.render import render_table
    from tests.core.boards import healthy_records

    boards = build_boards(healthy_records())
    assert len(boards[0].rows) == 5 and len(boards[0].columns) == 8
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(render_table(boards, width=100))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    for column in ("mmd ↓", "frd ↓", "ms-ssim ≈0.907", "memorization ↓", "precision ↑", "coverage ↑"):
        assert column in text
    assert "0.501 [-3.05, 4.05]" in text and "…" not in text  # whole cells: nothing wrapped or cut
    wide = Console(width=320, record=True, file=io.StringIO())
    wide.print(render_table(boards, width=320))
    wide_text = wide.export_text()
    assert "prdc.precision ↑" in wide_text and "real (test split)" in wide_text
    only = Console(width=100, record=True, file=io.StringIO())
    only.print(render_table(boards, width=100, metrics=["mmd", "frd"]))
    only_text = only.export_text()
    assert "frd ↓" in only_text and "ms-ssim" not in only_text
    with pytest.raises(Exception, match="no column 'fid'"):
        boards[0].select(["fid"])


def test_a_board_of_samplers_lists_their_steps_and_seconds_and_others_stay_as_they_were():
    import io

    from rich.console import Console

    from benchgen.board.render import render_markdown, render_table
    from benchgen.board.samplers import sampler_rows
    from tests.core.test_plots import _sampler_records

    def text(boards):
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(render_table(boards, width=100))
        return console.export_text()

    records = _sampler_records()
    [board] = build_boards(records)
    rows = {r.generator: r for r in sampler_rows(board)}
    assert (rows["pndm-10"].steps, rows["pndm-10"].evaluations, rows["pndm-10"].seconds_per_volume) == (10, 19, 0.23)
    assert (rows["ddim-10"].evaluations, rows["holdout"].steps) == (10, None)  # evaluations = steps without warm-up
    shown = text([board])
    assert "samplers of s (board order)" in shown and "cpu, 2 torch threads" in shown
    assert any(line.split()[:5] == ["pndm-10", "pndm", "10", "19", "0.23"] for line in shown.splitlines())
    assert "| ddpm | ddpm | 1000 | 1000 | 12 |" in render_markdown([board])
    assert "class='samplers'" in render_html([board])
    # one DDPM beside baselines, however their seconds differ: the board is exactly as before
    [plain] = build_boards([r for r in records if r["generator"] in ("holdout", "ddpm", "noise")])
    assert sampler_rows(plain) == [] and "samplers of" not in text([plain])
    assert "| generator | sampler |" not in render_markdown([plain]) and "class='samplers'" not in render_html([plain])


def test_seconds_per_volume_is_the_mean_over_seeds_of_each_draw():
    from dataclasses import asdict

    from benchgen.board.build import seconds_per_volume

    recs = [asdict(make_record(f"k{s}{m}", seed=s, metric=m, sampler={"seconds_per_volume": v}))
            for s, v in ((0, 1.0), (1, 3.0)) for m in ("a", "b")]
    assert seconds_per_volume(recs) == 2.0
    assert seconds_per_volume([asdict(make_record("old"))]) is None  # drawn before draws were timed


def test_terminal_legend_is_three_lines_and_explain_has_every_column_in_full():
    """A newcomer's board: a legend of at most three lines at 100 columns under the tables, only the first
    compact table with the rank column, and `--explain` naming every metric in full."""
    import io

    from rich.console import Console

    from benchgen.board.legend import explain
    from benchgen.board.render import render_table

    recs = []
    for metric in ("mmd", "frd", "kid", "ms-ssim", "prdc.precision", "prdc.recall", "prdc.density",
                   "prdc.coverage", "memorization.copies", "memorization.authpct"):
        recs += _one_seed({"holdout": (0.1, -1.0, 1.5), "gaussian": (12.5, 11.0, 61.2), "noise": (900.0, 850.0, 990.0)},
                          metric=metric, primary_metric="mmd")
    boards = build_boards(recs)
    console = Console(width=100, file=io.StringIO(), soft_wrap=True)
    console.print(render_table(boards, width=100))
    text = console.file.getvalue().splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith("value [low, high]"))
    assert len(text) - start <= 3 and text[-1].endswith("--explain"), text[start:]
    headers = [line for line in text if "generator" in line]
    assert len(headers) >= 2 and headers[0].startswith("#") and not any(h.startswith("#") for h in headers[1:])
    full = " ".join(explain(boards).split())
    for words in ("MMD, maximum mean discrepancy", "FRD, Fréchet radiomics distance", "KID, kernel inception",
                  "MS-SSIM, multi-scale structural similarity", "PRDC, precision / recall / density / coverage",
                  "AuthPct", "not comparable with the FRD values published"):
        assert words in full, words
