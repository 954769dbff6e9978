"""How often does each metric separate sets known to differ, and how often does a board of identical
generators claim an order? Measured at the healthy_t1 quick size with the board's own rules.

    python benchmarks/metric_power.py [--reps 10] [--bootstrap 200] [--jobs 2] [--skip memorization]

Each repetition (the setting of benchmarks/ci_coverage.py: the phantom cohort at 16×24×16 through the suite's
data chain, a fresh real set of 60, synthetic sets of 48, one evaluation seed) builds one board of nine rows:

* ``same-1`` … ``same-5``: five independent draws of the real distribution (held-out phantoms): the null board;
* ``gaussian``: the PCA Gaussian baseline, refitted every repetition on the training set (fit seed = repetition);
* ``blurred``: held-out phantoms blurred with a Gaussian of sigma 1 voxel (a degraded set);
* ``noisy``: held-out phantoms plus Gaussian noise of std 0.05 (a degraded set, the metric sanity suite's);
* ``noise``: the uniform-noise baseline.

It prints, per metric: the power — the share of repetitions in which the nine-row board puts ``same-1`` above
each known-different row (the rank intervals' rule: paired bootstrap, Holm over the column's 36 pairs) — and the
false-order rate of the null board (the five ``same-*`` rows alone): the share of repetitions in which any of its
10 pairs is put in a strict order (goal ≤ 0.05), and the same for the Holm-adjusted verdicts of ``same-2`` …
``same-5`` against ``same-1``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import ci_coverage as cc  # the coverage benchmark's simulation (same folder)
import numpy as np
import torch
from scipy import ndimage

from benchgen.board import verdicts
from benchgen.board.board import separated_pairs
from benchgen.board.build import build_boards
from benchgen.interfaces import FitContext

NULL = [f"same-{i}" for i in range(1, 6)]
DIFFERENT = ["gaussian", "blurred", "noisy", "noise"]


def blurred(x: np.ndarray) -> np.ndarray:
    return np.stack([ndimage.gaussian_filter(v, 1.0) for v in x]).astype(np.float32)


def sets_of(rep: int, seed: int) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    assert cc.SIM is not None
    sim, rng = cc.SIM, np.random.default_rng([seed, rep])
    n_draw = len(NULL) + 2
    idx = rng.permutation(len(sim.draw_pool))[: sim.n_real + n_draw * sim.n_syn]
    real = sim.draw_pool[idx[: sim.n_real]]
    parts = np.split(idx[sim.n_real:], n_draw)
    out = {g: [sim.draw_pool[p]] for g, p in zip(NULL, parts)}
    out["blurred"] = [blurred(sim.draw_pool[parts[-2]])]
    out["noisy"] = [cc.noisy(sim.draw_pool[parts[-1]], rng)]
    for label in ("gaussian", "noise"):
        gen = sim.suite.generators[label].build()
        with tempfile.TemporaryDirectory() as work:
            gen.fit(sim.train, FitContext(workdir=Path(work), seed=rep, quiet=True))
        out[label] = [gen.sample(sim.n_syn, seed + rep).numpy()[:, 0]]
    return real, out


def one_rep(rep: int, seed: int) -> dict[str, Any]:
    assert cc.SIM is not None
    real, sets = sets_of(rep, seed)
    board = build_boards(cc.SIM.records(real, sets, cc.SIM.metrics))[0]
    cells = {g: cs for g, _, cs in board.rows}
    out: dict[str, Any] = {}
    for col in board.columns:
        cols = {g: cs[col] for g, cs in cells.items() if cs[col].mean is not None}
        apart = separated_pairs(board, col, cols)  # the rank intervals' rule, Holm over the 36 pairs
        power = {g: ("same-1", g) in apart for g in DIFFERENT}
        null_board = dataclasses.replace(board, rows=[r for r in board.rows if r[0] in NULL], _rank_memo={})
        ordered = bool(separated_pairs(null_board, col, {g: cols[g] for g in NULL}))
        called = any(v.word in ("better", "worse") for v in verdicts.board_verdicts(null_board, "same-1", [col]))
        out[col] = {"power": power, "false_order": ordered, "false_verdict": called}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--n-real", type=int, default=60)
    ap.add_argument("--n-synthetic", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip", default="", help="metric labels left out, comma-separated (e.g. memorization)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    cc.SIM = cc.Simulation(args)
    cc.SIM.seeds = [0]
    for label in filter(None, args.skip.split(",")):
        del cc.SIM.metrics[label]
    reps = cc._map(functools.partial(_rep_safe), args.reps, args.seed, args.jobs, "repetition", t0)
    cols = list(reps[0])
    print(f"\n{args.reps} repetitions, B = {args.bootstrap}, n_real {cc.SIM.n_real}, n_synthetic {cc.SIM.n_syn}, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print("| metric | " + " | ".join(f"power vs {g}" for g in DIFFERENT) + " | false order, 5 identical rows "
          "| false verdict (Holm, vs same-1) |")
    print("|---|" + "---|" * (len(DIFFERENT) + 2))
    for col in cols:
        pw = [np.mean([r[col]["power"][g] for r in reps]) for g in DIFFERENT]
        fo = np.mean([r[col]["false_order"] for r in reps])
        fv = np.mean([r[col]["false_verdict"] for r in reps])
        print(f"| {col} | " + " | ".join(f"{p:.2f}" for p in pw) + f" | {fo:.2f} | {fv:.2f} |")


def _rep_safe(rep: int, seed: int) -> dict[str, Any]:
    return one_rep(rep, seed)


if __name__ == "__main__":
    main()
