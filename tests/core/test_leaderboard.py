import math

import pytest

from benchgen.leaderboard import build_boards, render_html, t_interval
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
    assert "<table>" in render_html([board])
