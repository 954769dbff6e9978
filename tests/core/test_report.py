"""The results page: self-contained HTML written by `benchgen run` and `benchgen report`; opt-in browser
check with headless Chromium (skipped when no chromium binary is on PATH)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.core.test_cli import invoke


@pytest.fixture
def ran(fake_registry, home, suite_file, tmp_path):
    """The toy suite run through the CLI, a loss curve placed in good's checkpoint folder (as ddpm writes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchgen import paths
    from benchgen.data.load import list_dataset
    from benchgen.fit.fit import checkpoint_key
    from benchgen.suite.load import load_suite

    db = tmp_path / "r.sqlite"
    path = suite_file()
    res = invoke("run", path, "--results", db, "--profile", "default")
    assert res.exit_code == 0, res.output
    suite = load_suite(path, "default")
    ckpt = paths.cache_dir("checkpoints") / checkpoint_key(suite.generators["good"], list_dataset(suite).fingerprint)
    fig = plt.figure(figsize=(2, 1))
    fig.gca().plot([3, 2, 1])
    fig.savefig(ckpt / "loss.png")
    plt.close(fig)
    again = invoke("report", path, "--results", db, "--profile", "default")  # default --out: the run folder
    assert again.exit_code == 0 and "report.html" in again.output, again.output
    return path, db, res.output, home / "runs" / "toy" / "default"


def test_run_writes_metric_plot_and_report_and_lists_them(ran):
    _, _, output, folder = ran
    for name in ("metrics.png", "report.html", "montage-good.png"):
        assert (folder / name).is_file() and f"wrote {folder / name}" in output
    assert (folder / "metrics.png").read_bytes()[:4] == b"\x89PNG"


def test_report_is_self_contained_with_board_plots_generators_and_provenance(ran, tmp_path):
    path, db, _, folder = ran
    res = invoke("report", path, "--out", tmp_path / "page", "--results", db, "--profile", "default")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "page" / "report.html").read_text()
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", text) and "<link" not in text  # nothing fetched
    imgs = re.findall(r"<img [^>]*src='([^']*)'", text)
    assert imgs and all(src.startswith("data:image/png;base64,") for src in imgs)
    alts = re.findall(r"alt='([^']*)'", text)
    assert {"plot meandiff", "good montage", "bad montage", "good loss curve"} <= set(alts)
    assert "bad loss curve" not in alts  # only where one exists
    assert "<table class='board'>" in text and "class='best'" in text and "value [low, high]: 95% CI" in text
    assert "n_real 5 · n_synthetic 4 · seeds 0, 1 · profile default" in text
    for fact in ("benchgen version", "git sha", "torch", "monai", "device", "suite file", "sha256"):
        assert fact in text
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() in text
    assert "samples/good/" in text and "&quot;scale&quot;: 0.5" in text  # sample folder link; bad's config


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _dump(browser: str, url: str, tmp_path: Path, screenshot: Path | None = None) -> tuple[str, str]:
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000"]
    args += [f"--screenshot={screenshot}", "--window-size=1280,2000"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


@pytest.mark.skipif(_chromium() is None, reason="no chromium or chromium-browser binary on PATH")
def test_report_renders_in_headless_chromium(ran, tmp_path):
    _, _, _, folder = ran
    browser = _chromium()
    assert browser
    url = (folder / "report.html").as_uri()
    dom, log = _dump(browser, url, tmp_path)
    assert 'data-ok="ok"' in dom, re.findall(r'data-ok="[^"]*"', dom)  # every image decoded, the board has rows
    assert int(re.search(r'data-images="(\d+)"', dom).group(1)) >= 4  # plot, two montages, a loss curve
    assert ":CONSOLE" not in log, [line for line in log.splitlines() if ":CONSOLE" in line]
    assert re.findall(r"data-generator='?\"?(\w+)", dom) == ["good", "bad"]  # ranked by meandiff
    dom, log = _dump(browser, url + "?sort=generator", tmp_path)  # the page's test hook: sort on load
    assert 'data-sorted="generator:asc"' in dom and ":CONSOLE" not in log
    assert re.findall(r"data-generator='?\"?(\w+)", dom) == ["bad", "good"]
    shot = tmp_path / "page.png"
    _dump(browser, url, tmp_path, shot)
    assert shot.read_bytes()[:4] == b"\x89PNG"


@pytest.fixture
def with_gain():
    """The fake plugins and a third-party metric `gain` of kind "utility" (not named like the built-in one)."""
    from importlib.metadata import EntryPoint

    from benchgen import registry
    from tests.core.conftest import fake_entry_points

    registry.refresh([*fake_entry_points(), EntryPoint("gain", "benchgen_testfakes:Gain", "benchgen.metrics")])
    yield
    registry.refresh()


def test_a_third_party_utility_metric_gets_the_tradeoff_plot(with_gain, home, suite_file, tmp_path):
    from tests.core.conftest import SUITE

    path = suite_file(SUITE.replace("[evaluation.metrics.meandiff]", "[evaluation.metrics.meandiff]\n"
                                    "[evaluation.metrics.gain]"))
    res = invoke("run", path, "--results", tmp_path / "r.sqlite", "--profile", "default")
    assert res.exit_code == 0, res.output
    folder = home / "runs" / "toy" / "default"
    assert (folder / "tradeoff.png").read_bytes()[:4] == b"\x89PNG" and f"wrote {folder / 'tradeoff.png'}" in res.output
    text = (folder / "report.html").read_text()
    assert "Utility against fidelity and memorization" in text and "alt='utility trade-off'" in text
    assert "downstream utility (gain:" in text and "against meandiff" in text  # chosen by kind, not by name


def test_figures_follow_the_installed_plugins_kind_not_the_stored_name(with_gain):
    from dataclasses import asdict

    from benchgen.board.build import build_boards
    from benchgen.board.report import tradeoff_columns
    from tests.core.test_store import make_record

    def records(utility_plugin: str) -> list[dict]:
        return [asdict(make_record(f"{g}-{m}", generator=g, metric=m, metric_plugin=p, value=v, ci_low=v - 1,
                                   ci_high=v + 1, primary_metric="meandiff"))
                for g, v in (("good", 1.0), ("bad", 2.0))
                for m, p in (("meandiff", "meandiff"), ("auc", utility_plugin))]

    gain = records("gain")
    assert tradeoff_columns(build_boards(gain)[0], gain) == ("auc", ["meandiff"])
    named = records("utility")  # the built-in's name, but no such plugin is installed here: no kind, no plot
    assert tradeoff_columns(build_boards(named)[0], named) is None
