"""benchmarks/perf/samplers.py: the fewest steps whose interval overlaps DDPM-1000's, and the speed-up."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from benchgen.board.build import build_boards
from tests.core.test_plots import _sampler_records

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "perf" / "samplers.py"


@pytest.fixture(scope="module")
def samplers():
    spec = importlib.util.spec_from_file_location("perf_samplers", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_fewest_overlapping_steps_and_speedup_per_family(samplers):
    [board] = build_boards(_sampler_records())
    fams = samplers.families(board, "ddpm")
    assert {f: [r.steps for r in rs] for f, rs in fams.items()} == {"ddim": [10, 50], "pndm": [10, 25]}
    ddim = samplers.answer(board, "ddpm", "ddim", fams["ddim"], "mmd")
    assert ddim.overlap.generator == "ddim-50"  # ddim-10's [3, 5] misses ddpm's [0.5, 1.5]; ddim-50's [0.6, 1.6] not
    assert ddim.speedup(12.0, ddim.overlap) == "20×"  # 12 s / 0.6 s per volume
    pndm = samplers.answer(board, "ddpm", "pndm", fams["pndm"], "mmd")
    assert pndm.overlap is None and pndm.tried == [10, 25]
    text = samplers.report(board, "ddpm")
    assert "| mmd ↓ | 1 [0.5, 1.5] | 50 (20×) | none of 10/25 |" in text and "weak evidence" in text


def test_an_unknown_reference_is_one_line(samplers):
    from benchgen.errors import ConfigError

    [board] = build_boards(_sampler_records())
    with pytest.raises(ConfigError, match="--reference: no row 'ddpm-9'"):
        samplers.families(board, "ddpm-9")


def test_overlap_needs_two_intervals(samplers):
    from benchgen.board.board import Cell

    a, b, c = Cell(1.0, 0.5, 1.5, 1, "ok"), Cell(2.0, 1.5, 2.5, 1, "ok"), Cell(3.0, None, None, 1, "ok")
    assert samplers.overlaps(a, b) is True and samplers.overlaps(b, Cell(0.1, 0.0, 0.2, 1, "ok")) is False
    assert samplers.overlaps(a, c) is None  # no interval: no answer
