"""--executor local with `[evaluation] draws = 2`: fit and score units per draw, the same cells and board as the
in-process run."""

from benchgen.cluster.ledger import default_run_dir, open_run_folder
from benchgen.cluster.status import unit_states
from benchgen.results.store import ResultStore, draw_of
from benchgen.suite.load import load_suite
from tests.cluster.test_local_executor import TINY, board, in_process_then_local

DRAWS = TINY.replace("bootstrap = 7", "bootstrap = 7\ndraws = 2")


def test_local_executor_runs_every_draw_like_the_in_process_run(cluster_env, suite_file, monkeypatch):
    suite = load_suite(suite_file(DRAWS), profile="default")
    assert suite.draws == 2
    s0, s1 = in_process_then_local(suite, cluster_env, monkeypatch)
    assert (s0.computed, s0.errors) == (8, [])
    assert (s1.computed, s1.cached, s1.errors) == (8, 0, [])
    rows = lambda db: sorted((r["cell_key"], draw_of(r), r["value"]) for r in ResultStore(db).records())  # noqa: E731
    assert rows(cluster_env / "b.sqlite") == rows(cluster_env / "a.sqlite")
    assert {d for _, d, _ in rows(cluster_env / "a.sqlite")} == {0, 1}
    assert board(suite, cluster_env / "b.sqlite") == board(suite, cluster_env / "a.sqlite")
    states, problems = unit_states(open_run_folder(default_run_dir("toy", "default")))
    assert {s.unit for s in states} == {f"{kind}-{g}-draw{d}{'-seed0' if kind == 'score' else ''}"
                                        for kind in ("fit", "score") for g in ("good", "bad") for d in (0, 1)}
    assert problems == []
