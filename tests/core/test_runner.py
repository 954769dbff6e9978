import json
import sqlite3

from benchgen.board.build import build_boards
from benchgen.board.render import render_csv, render_json, render_markdown
from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.conftest import SUITE


def test_run_stores_every_cell_then_caches(fake_registry, suite_file, home, tmp_path, monkeypatch):
    counter = tmp_path / "fits.txt"
    monkeypatch.setenv("BENCHGEN_TEST_FIT_COUNTER", str(counter))
    suite = load_suite(suite_file(), profile="default")
    db = tmp_path / "r.sqlite"
    s1 = run_suite(suite, db, quiet=True)
    assert (s1.computed, s1.cached, s1.errors) == (4, 0, [])
    assert counter.read_text().count("fit") == 2
    recs = ResultStore(db).records()
    assert len(recs) == 4 and {r["status"] for r in recs} == {"ok"}
    r = recs[0]
    assert r["n_real"] == 5 and r["n_synthetic"] == 4 and r["profile"] == "default"
    assert r["metric_params"]["bootstrap"] == 7  # the suite's B reaches the metric
    assert r["torch_version"] and r["benchgen_version"] and r["device"] == "cpu"
    # scaled-down mean is further from the real mean: it must rank second
    board = build_boards(recs)[0]
    assert [row[0] for row in board.rows] == ["good", "bad"]
    assert board.rows[0][2]["meandiff"].mean < board.rows[1][2]["meandiff"].mean
    s2 = run_suite(suite, db, quiet=True)
    assert (s2.computed, s2.cached) == (0, 4)
    assert counter.read_text().count("fit") == 2  # nothing refitted
    assert len(ResultStore(db).records()) == 4


def test_failures_are_stored_and_run_continues(fake_registry, suite_file, home, tmp_path):
    text = SUITE.replace("params = { scale = 0.5 }", "params = { fail = true }").replace(
        "params = { n_subjects = 20 }", "params = { n_subjects = 20, bad_subjects = [3] }")
    text = text.replace("[evaluation.metrics.meandiff]", "[evaluation.metrics.meandiff]\n"
                        "[evaluation.metrics.boom]\nplugin = \"meandiff\"\nparams = { explode = true }")
    db = tmp_path / "r.sqlite"
    s = run_suite(load_suite(suite_file(text), profile="default"), db, quiet=True)
    assert any("deliberately broken" in reason for _, reason in s.data_failures)
    recs = ResultStore(db).records()
    by = {(r["generator"], r["metric"], r["seed"]): r for r in recs}
    assert by[("bad", "meandiff", 0)]["status"] == "error"
    assert "deliberate fit failure" in by[("bad", "meandiff", 0)]["message"]
    boom = by[("good", "boom", 1)]
    assert boom["status"] == "error" and "deliberate metric failure" in boom["message"]
    assert by[("good", "meandiff", 1)]["status"] == "ok"
    assert len(s.errors) == 6  # bad: 2 seeds x 2 metrics, good: boom x 2 seeds
    # errors are retried on the next run, ok cells are not
    s2 = run_suite(load_suite(suite_file(text), profile="default"), db, quiet=True)
    assert s2.cached == 2 and len(s2.errors) == 6


def test_sub_results_become_columns(fake_registry, suite_file, home, tmp_path):
    text = SUITE.replace("[evaluation.metrics.meandiff]", "[evaluation.metrics.meandiff]\n[evaluation.metrics.pair]")
    db = tmp_path / "r.sqlite"
    run_suite(load_suite(suite_file(text), profile="default"), db, quiet=True)
    board = build_boards(ResultStore(db).records())[0]
    assert board.columns == ["meandiff", "pair.a", "pair.b"]
    assert board.higher_is_better == {"meandiff": False, "pair.a": True, "pair.b": False}
    md = render_markdown([board])
    assert "pair.a ↑" in md and "pair.b ↓" in md and "meandiff ↓" in md
    flat = json.loads(render_json([board]))["cells"]
    assert {c["metric"] for c in flat} == {"meandiff", "pair.a", "pair.b"}
    assert render_csv([board]).count("\n") == 1 + 2 * 3


def test_two_processes_write_one_store(tmp_path):
    """Concurrent writers lose nothing (WAL + busy timeout)."""
    import multiprocessing as mp

    db = tmp_path / "r.sqlite"
    ResultStore(db).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db), w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    n = sqlite3.connect(db).execute("select count(*) from results").fetchone()[0]
    assert n == 2 * 50


def _writer(db: str, w: int) -> None:
    from tests.core.test_store import make_record

    store = ResultStore(db)
    for i in range(50):
        store.put(make_record(f"w{w}-{i}"))


def test_every_record_has_the_draw_time_a_cache_hit_keeps(fake_registry, suite_file, home, tmp_path):
    suite = load_suite(suite_file(), profile="default")
    run_suite(suite, tmp_path / "a.sqlite", quiet=True, save_samples=False)
    run_suite(suite, tmp_path / "b.sqlite", quiet=True, save_samples=False)  # same home: samples from the cache
    a, b = (ResultStore(tmp_path / f"{n}.sqlite").records() for n in "ab")
    spv = {(r["generator"], r["seed"]): r["sampler"]["seconds_per_volume"] for r in a}
    assert all(v > 0 for v in spv.values()) and {r["sampler"]["timed_volumes"] for r in a} == {4}
    assert {(r["generator"], r["seed"]): r["sampler"]["seconds_per_volume"] for r in b} == spv  # as drawn
    assert sorted(r["cell_key"] for r in a) == sorted(r["cell_key"] for r in b)


def test_a_cache_entry_from_before_draws_were_timed_still_loads(fake_registry, suite_file, home, tmp_path):
    from safetensors.torch import load_file, save_file

    suite = load_suite(suite_file(), profile="default")
    run_suite(suite, tmp_path / "a.sqlite", quiet=True, save_samples=False)
    for f in (home / "cache" / "samples").glob("*.safetensors"):  # rewritten without the draw_time metadata
        save_file(load_file(str(f)), str(f))
    s = run_suite(suite, tmp_path / "b.sqlite", quiet=True, save_samples=False)
    recs = ResultStore(tmp_path / "b.sqlite").records()
    assert s.ok and recs and all("seconds_per_volume" not in r["sampler"] for r in recs)
