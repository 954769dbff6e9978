"""Where a run's time goes: `benchgen run` ends its console output and its run.log with seconds per stage
(data, each generator's fit, sampling, each metric, files, board), and its JSON summary holds the same rows;
the rows, "other" included, add up to the total."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from benchgen.cli import COMMAND_MODULES, app
from benchgen.timing import StageTimes
from tests.core import fakes

for _m in COMMAND_MODULES:
    __import__(f"benchgen.cli.{_m}")

runner = CliRunner()


@pytest.fixture
def slow_fit(monkeypatch):
    """The `mean` generator's fit takes 0.3 s more, its sampling 0.15 s more: the table must put them there."""
    fit, sample = fakes.MeanGen.fit, fakes.MeanGen.sample

    def slow(self, *a, **k):
        time.sleep(0.3)
        return fit(self, *a, **k)

    def slow_sample(self, *a, **k):
        time.sleep(0.15)
        return sample(self, *a, **k)
    monkeypatch.setattr(fakes.MeanGen, "fit", slow)
    monkeypatch.setattr(fakes.MeanGen, "sample", slow_sample)


def test_json_summary_has_every_stage_and_they_sum_to_the_total(fake_registry, home, suite_file, tmp_path,
                                                               slow_fit):
    res = runner.invoke(app, ["run", str(suite_file()), "--results", str(tmp_path / "r.sqlite"),
                              "--profile", "default", "--json"])
    assert res.exit_code == 0, res.output
    timing = json.loads(res.stdout)["time"]
    rows = {(r["stage"], r.get("generator"), r.get("metric")): r["seconds"] for r in timing["stages"]}
    for gen in ("good", "bad"):
        assert rows[("fit", gen, None)] >= 0.3  # the sleep lands in its own stage, not in another
        assert 0.3 <= rows[("sample", gen, None)] < 0.3 + rows[("fit", gen, None)]  # two seeds × 0.15 s
        assert ("score", gen, "meandiff") in rows and ("files", gen, None) in rows
    assert ("data", None, None) in rows and ("board + report", None, None) in rows
    assert list(rows)[-1] == ("other", None, None) and rows[("other", None, None)] >= 0
    assert sum(rows.values()) == pytest.approx(timing["total_s"], abs=0.002 * len(rows))
    assert timing["total_s"] >= 4 * 0.3  # two fits and four draws


def test_console_and_run_log_end_with_the_breakdown(fake_registry, home, suite_file, tmp_path):
    res = runner.invoke(app, ["run", str(suite_file()), "--results", str(tmp_path / "r.sqlite"),
                              "--profile", "default"])
    assert res.exit_code == 0, res.output
    tail = res.output.strip().splitlines()
    start = next(i for i, line in enumerate(tail) if line.startswith("time by stage"))
    table = tail[start:]
    assert table[-1].split()[0] == "total" and table[-2].split()[0] == "other"
    assert [line.split()[0] for line in table[2:4]] == ["good", "bad"] and table[4].startswith("all generators")
    assert "meandiff" in table[1].split() and "fit" in table[1].split()
    log = (home / "runs" / "toy" / "default" / "run.log").read_text().strip().splitlines()
    assert [line.split(" ", 2)[2] for line in log[-len(table):]] == table  # the same lines, time-stamped

    again = runner.invoke(app, ["run", str(suite_file()), "--results", str(tmp_path / "r.sqlite"),
                                "--profile", "default", "--json"])  # all cached: no fits, no draws
    stages = {r["stage"] for r in json.loads(again.stdout)["time"]["stages"]}
    assert stages == {"data", "board + report", "other"}


def test_table_rows_and_other():
    st = StageTimes()
    st.add("data", 2.0)
    st.add("fit", 10.0, "ddpm")
    st.add("score", 1.0, "ddpm", "mmd")
    st.add("score", 0.5, "ddpm", "mmd")  # a second seed adds to the same cell
    st.add("sample", 3.0, "ddpm")
    rows = st.rows(20.0)
    assert rows[-1] == {"stage": "other", "seconds": 3.5}
    assert {"stage": "score", "generator": "ddpm", "metric": "mmd", "seconds": 1.5} in rows
    lines = st.table(20.0)
    head = lines[1].split()
    assert head == ["fit", "sample", "mmd", "files", "total"]
    assert lines[2].split() == ["ddpm", "10.0", "3.0", "1.5", "14.5"]
    assert lines[-3].split() == ["data", "2.0"] and lines[-2].split() == ["other", "3.5"]
    assert lines[-1].split() == ["total", "20.0"]
