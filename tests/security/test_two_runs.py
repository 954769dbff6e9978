"""Two runs, one home: an error record never replaces a finished one, and two `benchgen run` processes of one
suite on one BENCHGEN_HOME both finish with every record stored exactly once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from benchgen.results.store import ResultStore
from tests.core.test_store import make_record
from tests.suites import tiny_suite

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from benchgen.cli import main; sys.argv[0] = 'benchgen'; main()"

TINY = tiny_suite("tiny", suite={"primary_metric": "mmd"}, generators=["gaussian", "noise"],
                  evaluation={"seeds": [0, 1], "bootstrap": 5},
                  metrics={"mmd": {}, "ms-ssim": {"params": {"kernel_size": 3, "scales": 1}}})



def test_an_error_never_replaces_an_ok_record(tmp_path):
    st = ResultStore(tmp_path / "db.sqlite")
    st.put(make_record("a", value=0.5))
    st.put(make_record("a", status="error", value=None, message="interrupted elsewhere"))
    (a,) = st.records()
    assert (a["status"], a["value"], a["message"]) == ("ok", 0.5, None)
    st.put(make_record("b", status="error", value=None, message="first try"))
    st.put(make_record("b", status="error", value=None, message="second try"))  # an error replaces an error
    assert st.records()[1]["message"] == "second try"
    st.put(make_record("b", value=0.125))  # and a retry's result replaces the error
    st.put(make_record("a", value=0.25))  # an ok record replaces an ok record
    assert [(r["cell_key"], r["status"], r["value"]) for r in st.records()] == [("a", "ok", 0.25), ("b", "ok", 0.125)]
    st.close()


def test_two_runs_of_one_suite_on_one_home(tmp_path):
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY)
    env = {**os.environ, "BENCHGEN_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("BENCHGEN_CACHE", None)
    cmd = [sys.executable, "-c", CLI, "run", str(suite), "--profile", "default", "--quiet"]
    procs = [subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    con = sqlite3.connect(tmp_path / "home" / "results.sqlite")
    rows = con.execute("select cell_key, generator, seed, metric, status from results").fetchall()
    con.close()
    cells = sorted((g, s, m) for _, g, s, m, _ in rows)
    assert cells == sorted((g, s, m) for g in ("gaussian", "noise") for s in (0, 1) for m in ("mmd", "ms-ssim"))
    assert len({k for k, *_ in rows}) == len(rows) == 8 and {st for *_, st in rows} == {"ok"}
