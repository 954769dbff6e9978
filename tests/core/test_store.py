import io
import json

import pytest

from benchgen.errors import ConfigError
from benchgen.results.store import Record, ResultStore, export, open_existing


def make_record(key: str, **kw) -> Record:
    base = dict(cell_key=key, suite="s", suite_version="1", profile="p", primary_metric="m", generator="g",
                generator_plugin="g", generator_version="1", generator_config_hash="h", generator_config={"a": 1},
                sampler={}, metric="m", metric_plugin="m", metric_version="1", metric_params={"k": 3},
                higher_is_better=False, value=0.5, ci_low=0.4, ci_high=0.6, reference=None, status="ok",
                message=None, details={"x": [1, 2]}, n_real=5, n_synthetic=5, seed=0, duration_s=0.1,
                data_fingerprint="d", benchgen_version="0", git_sha=None, torch_version="t", monai_version="m",
                device="cpu", created_at="2026-01-01T00:00:00")
    base.update(kw)
    return Record(**base)


def test_roundtrip_replace_and_done_keys(tmp_path):
    st = ResultStore(tmp_path / "db.sqlite")
    st.put(make_record("a"))
    st.put(make_record("b", status="error", value=None))
    st.put(make_record("a", value=0.25))  # same cell again replaces, never duplicates
    recs = st.records()
    assert len(recs) == 2
    a = next(r for r in recs if r["cell_key"] == "a")
    assert a["value"] == 0.25 and a["details"] == {"x": [1, 2]} and a["higher_is_better"] is False
    assert st.done_keys(["a", "b", "c"]) == {"a"}  # errors are not "done"


def test_export_formats(tmp_path):
    st = ResultStore(tmp_path / "db.sqlite")
    st.put(make_record("a"))
    buf = io.StringIO()
    export(st.records(), "jsonl", buf)
    assert json.loads(buf.getvalue())["metric_params"] == {"k": 3}
    buf = io.StringIO()
    export(st.records(), "csv", buf)
    assert buf.getvalue().splitlines()[0].startswith("cell_key,suite")
    with pytest.raises(ConfigError, match="choose csv or jsonl"):
        export([], "xml", buf)


def test_missing_or_unwritable_store(tmp_path):
    with pytest.raises(ConfigError, match="no result store here"):
        open_existing(tmp_path / "none.sqlite")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot open the result store"):
        ResultStore(blocker / "db.sqlite")
