"""Named metric protocols (benchgen.suite.protocols): presets validate, suites take them, records carry them,
boards never rank two protocols together, a short sample count is flagged, old stores migrate."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import asdict

import pytest

from benchgen.board.build import build_boards
from benchgen.board.render import render_json, render_markdown
from benchgen.errors import ConfigError
from benchgen.results.cells import cell_key
from benchgen.results.store import ResultStore, open_existing
from benchgen.runner import run_suite
from benchgen.suite import protocols
from benchgen.suite.load import check_plugins, load_suite, plugin_spec
from tests.core.test_store import make_record
from tests.security.test_two_runs import TINY as TWO_RUNS_SUITE

# the tiny phantom suite of the two-runs tests without its metrics: a protocol supplies them
TINY = TWO_RUNS_SUITE.split("[evaluation.metrics.")[0]


@pytest.fixture
def suite_at(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    monkeypatch.delenv("BENCHGEN_MEDICALNET_WEIGHTS", raising=False)

    def write(extra: str, name: str = "tiny.toml"):
        path = tmp_path / name
        path.write_text(TINY.replace("bootstrap = 5\n", "bootstrap = 5\n" + extra))
        return path
    return write


@pytest.mark.parametrize("name", list(protocols.PROTOCOLS))
def test_presets_validate_like_suite_metrics(name):
    p = protocols.PROTOCOLS[name]
    assert p.name == name and p.description and "\n" not in p.description and p.citation
    assert p.sources and all(":" in s or ".txt" in s for s in p.sources)  # repository: path, or the seed text
    assert p.primary in p.metrics
    assert p.min_samples is None or p.min_samples >= 2
    # the same parser as a suite's [evaluation.metrics], and the plugins' own suite checks at the paper's shape
    specs = {label: plugin_spec("metrics", label, table, f"protocol {name}.{label}")
             for label, table in p.metrics.items()}
    check_plugins({}, specs, p.shape or (128, 128, 128), p.min_samples or 100, "cpu")
    for label, table in p.metrics.items():
        for key, value in table["params"].items():
            assert getattr(specs[label].params, key) == value


def test_preset_settings_are_the_sources():
    """The numbers each source fixes (see the presets' sources): a typo here changes a paper's number."""
    get = protocols.PROTOCOLS
    assert get["seed-paper"].metrics["ms-ssim"]["params"]["kernel_size"] == 4
    assert get["seed-paper"].metrics["mmd"]["params"] == {"kernel": "linear", "features": "voxels"}
    assert (get["seed-paper"].min_samples, get["seed-paper"].shape) == (86, (84, 128, 84))
    assert get["wdm-3d"].metrics["fid"]["params"]["features"] == "medicalnet-resnet50"
    assert get["wdm-3d"].metrics["ms-ssim"]["params"]["kernel_size"] == 7
    assert get["wdm-3d"].metrics["ms-ssim"]["params"]["data_range"] == 1.0
    assert get["wdm-3d"].min_samples == 1000
    assert get["ha-gan"].min_samples == 2048
    assert get["ha-gan"].metrics["mmd"]["params"]["kernel"] == "gaussian"
    assert get["ha-gan"].metrics["mmd"]["params"]["features"] == get["ha-gan"].metrics["fid"]["params"]["features"]
    assert get["brain-ldm"].metrics["ms-ssim"]["params"]["kernel_size"] == 7 and get["brain-ldm"].min_samples == 1000


def test_shortfall_note():
    p = protocols.PROTOCOLS["wdm-3d"]
    assert p.shortfall(1000, 1000) == ""
    assert p.shortfall(1200, 48) == "n below protocol (48 < 1000)"
    assert p.shortfall(60, 48) == "n below protocol (48 < 1000; n_real 60 < 1000)"
    assert protocols.PROTOCOLS["ha-gan"].shortfall(3, 2048) == ""  # HA-GAN fixes no real count
    assert p.shortfall(None, 1000) == ""  # the real count not known yet (benchgen validate)


def test_unknown_protocol_is_one_line_naming_the_known_ones(suite_at):
    with pytest.raises(ConfigError) as exc:
        load_suite(suite_at('protocol = "wdm3d"\n'), "default")
    msg = exc.value.message
    assert "evaluation.protocol: unknown protocol 'wdm3d'" in msg and "\n" not in msg
    assert all(name in msg for name in protocols.PROTOCOLS)


def test_suite_metrics_under_a_protocol(suite_at):
    with pytest.raises(ConfigError, match="protocol 'ha-gan' fixes its metrics .*'ms-ssim' is not one of them"):
        load_suite(suite_at('protocol = "ha-gan"\n[evaluation.metrics.ms-ssim]\n'), "default")
    with pytest.raises(ConfigError, match="evaluation.metrics.mmd: protocol 'ha-gan' fixes kernel"):
        load_suite(suite_at('protocol = "ha-gan"\n[evaluation.metrics.mmd]\nparams = { kernel = "linear" }\n'),
                   "default")
    with pytest.raises(ConfigError, match="fixes plugin"):
        load_suite(suite_at('protocol = "ha-gan"\n[evaluation.metrics.fid]\nplugin = "kid"\n'), "default")
    suite = load_suite(suite_at('protocol = "ha-gan"\n[evaluation.metrics.fid]\nparams = { weights = "w.pth" }\n'),
                       "default")
    assert suite.protocol == "ha-gan" and list(suite.metrics) == ["fid", "mmd"] and suite.primary_metric == "mmd"
    assert suite.metrics["fid"].params.weights == "w.pth" and suite.metrics["fid"].params.bootstrap == 5
    assert suite.metrics["mmd"].params.kernel == "gaussian" and suite.metrics["mmd"].params.weights is None
    path = suite_at('protocol = "ha-gan"\n', "no_primary.toml")
    path.write_text(path.read_text().replace('primary_metric = "mmd"\n', ""))
    assert load_suite(path, "default").primary_metric == "fid"  # the protocol names the primary metric


def test_validate_names_the_protocol_and_warns_of_n_below(suite_at):
    from typer.testing import CliRunner

    from benchgen.cli import load_commands

    r = CliRunner().invoke(load_commands(), ["validate", str(suite_at('protocol = "ha-gan"\n')), "-p", "default"])
    assert r.exit_code == 0, r.output
    assert "2 metrics (protocol ha-gan)" in r.stdout
    assert "n below protocol (4 < 2048)" in " ".join(r.stderr.split())


def test_a_protocol_that_does_not_fit_the_shape_says_so(suite_at):
    with pytest.raises(ConfigError, match="evaluation.protocol 'seed-paper' does not fit this suite: "
                                          "evaluation.metrics.ms-ssim.params.kernel_size"):
        load_suite(suite_at('protocol = "seed-paper"\n'), "default")


def test_changing_protocol_never_reuses_cells(suite_at):
    suite = load_suite(suite_at('protocol = "ha-gan"\n'), "default")
    gen, met = suite.generators["noise"], suite.metrics["fid"]
    keys = {p: cell_key(dataclasses.replace(suite, protocol=p), gen, 0, met, "d") for p in ("ha-gan", "wdm-3d", "")}
    assert len(set(keys.values())) == 3


def test_suite_with_protocol_runs_and_every_record_carries_it(suite_at, tmp_path):
    suite = load_suite(suite_at('protocol = "ha-gan"\n'), "default")
    db = tmp_path / "r.sqlite"
    summary = run_suite(suite, db, quiet=True)
    assert summary.errors == [] and len(summary.skipped) == 8  # no MedicalNet weights here: all skipped
    recs = ResultStore(db).records()
    assert {r["metric"] for r in recs} == {"fid", "mmd"} and {r["protocol"] for r in recs} == {"ha-gan"}
    assert all(r["status"] == "skipped" and "resnet_50" in r["message"] for r in recs)
    for r in recs:
        assert r["extra"]["protocol"]["note"] == "n below protocol (4 < 2048)" and r["extra"]["protocol"]["below"]
        assert r["extra"]["hardware"]  # the environment's extras are kept
    (board,) = build_boards(recs)
    assert board.protocol == "ha-gan" and board.below_protocol == "n below protocol (4 < 2048)"
    assert "protocol ha-gan · n below protocol (4 < 2048)" in board.title()
    assert "n below protocol (4 < 2048)" in board.caption()
    head = json.loads(render_json([board]))["boards"][0]
    assert head["protocol"] == "ha-gan" and head["below_protocol"] is True
    assert "protocol ha-gan" in render_markdown([board])


def test_boards_of_two_protocols_are_separate():
    recs = [asdict(make_record(f"{p}-{g}", generator=g, metric="fid", primary_metric="fid", protocol=p,
                               value=v, extra={"protocol": {"note": note}} if note else {}))
            for p, note in (("wdm-3d", "n below protocol (5 < 1000)"), ("", "")) for g, v in (("a", 1.0), ("b", 2.0))]
    boards = build_boards(recs)
    assert [b.protocol for b in boards] == ["", "wdm-3d"]
    assert all(len(b.rows) == 2 for b in boards)
    assert boards[0].below_protocol == "" and "protocol" not in boards[0].title()
    assert boards[1].below_protocol == "n below protocol (5 < 1000)"
    assert json.loads(render_json(boards))["boards"][0]["below_protocol"] is False


def test_a_version_1_store_opens_and_its_records_read_protocol_empty(tmp_path):
    db = tmp_path / "old.sqlite"
    rec = asdict(make_record("old"))
    del rec["protocol"]
    conn = sqlite3.connect(db)
    conn.execute(f"CREATE TABLE results ({', '.join(c + (' PRIMARY KEY' if c == 'cell_key' else '') for c in rec)})")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('application', 'benchgen')")
    conn.execute(f"INSERT INTO results VALUES ({', '.join('?' * len(rec))})",
                 [json.dumps(v) if isinstance(v, dict) else v for v in rec.values()])
    conn.commit()
    conn.close()
    ro = open_existing(db)  # read-only: nothing is altered, the record reads protocol ""
    assert [r["protocol"] for r in ro.records()] == [""]
    ro.close()
    assert "protocol" not in {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(results)")}
    st = ResultStore(db)  # a writer adds the column
    st.put(make_record("new", protocol="wdm-3d"))
    assert {r["cell_key"]: r["protocol"] for r in st.records()} == {"old": "", "new": "wdm-3d"}
    assert dict(st.conn.execute("SELECT key, value FROM meta"))["schema_version"] == "2"
    st.close()
    ResultStore(db).close()  # a second open finds nothing to migrate
