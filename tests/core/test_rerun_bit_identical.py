"""On one machine and library build, a rerun of a suite (fresh caches) reproduces every stored value bit for
bit — DDPM training and sampling included — and records the hardware it ran on."""

from __future__ import annotations

from benchgen.results.store import ResultStore
from benchgen.runner import run_suite
from benchgen.suite.load import load_suite
from tests.core.test_progress_logs import SUITE


def _values(tmp_path, name, monkeypatch):
    monkeypatch.setenv("BENCHGEN_HOME", str(tmp_path / name))
    monkeypatch.delenv("BENCHGEN_CACHE", raising=False)
    suite_file = tmp_path / "suite.toml"
    suite_file.write_text(SUITE.replace("max_steps = 60", "max_steps = 8").replace(
        "[evaluation.metrics.mmd]", "[evaluation.metrics.mmd]\n[evaluation.metrics.gap]\nplugin = \"ms-ssim\"\n"
        "params = { kernel_size = 3, scales = 1, max_pairs = 3 }"))
    db = tmp_path / f"{name}.sqlite"
    summary = run_suite(load_suite(suite_file, "default"), db, quiet=True, save_samples=False)
    assert summary.ok, summary.errors
    store = ResultStore(db)
    recs = store.records()
    store.close()
    return recs


def test_rerun_is_bit_identical(tmp_path, monkeypatch):
    first = _values(tmp_path, "a", monkeypatch)
    second = _values(tmp_path, "b", monkeypatch)
    key = lambda r: (r["generator"], r["metric"], r["seed"])  # noqa: E731
    a = {key(r): (r["value"], r["ci_low"], r["ci_high"], r["reference"]) for r in first}
    b = {key(r): (r["value"], r["ci_low"], r["ci_high"], r["reference"]) for r in second}
    assert a and a == b  # exact equality of floats, not approx
    assert all(v[0] is not None for v in a.values())
    hw = first[0]["extra"]["hardware"]
    assert hw["cpu"] and hw["cpu_count"] >= 1 and hw["torch_threads"] >= 1
