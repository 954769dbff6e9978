"""Does a pooled board cell's interval cover the population value when training runs vary? Coverage of the
hierarchical bootstrap (benchgen.functional.hierarchical) with a known truth, and the false-order rate of a board of
identical generators, by the number of fits.

    python benchmarks/fit_interval_coverage.py [--reps 400] [--bootstrap 200]

A generator's population value is mu = 1. Each fit f draws theta_f ~ N(mu, sd_train²) (the training run); each of
S seeds draws its estimate theta_f + N(0, sd_sample²); the real test set shifts every record alike by
N(0, sd_test²). Each record's B bootstrap replicates are what a metric stores: the estimate, the shared
real-subject resampling noise (replicate b shared by every record, sd_test) and its own sample resampling
noise (sd_sample). The records become a board through the leaderboard's code; the script counts how often the
printed 95% interval covers mu, and how often two rows of the same generator get disjoint rank intervals.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

from benchgen.board.build import build_boards
from benchgen.results.store import Record

BASE = dict(suite="sim", suite_version="1", profile="p", primary_metric="m", generator_plugin="g",
            generator_version="1", generator_config={}, sampler={}, metric="m", metric_plugin="m", metric_version="1",
            metric_params={}, higher_is_better=False, ci_low=None, ci_high=None, reference=None, status="ok",
            message=None, n_real=60, n_synthetic=48, duration_s=0.0, data_fingerprint="d", benchgen_version="0",
            git_sha=None, torch_version="t", monai_version="m", device="cpu", created_at="")


def records(rng: np.random.Generator, label: str, fits: int, seeds: int, sd: tuple[float, float],
            test_shift: float, shared: np.ndarray) -> list[dict]:
    sd_train, sd_sample = sd
    out = []
    for f in range(fits):
        theta = 1.0 + rng.normal(0, sd_train)
        for s in range(seeds):
            v = theta + rng.normal(0, sd_sample) + test_shift
            reps = v + shared + rng.normal(0, sd_sample, len(shared))
            out.append(asdict(Record(cell_key=f"{label}{f}{s}", generator=label, generator_config_hash=label,
                                     value=v, seed=s, details={"replicates": reps.tolist()},
                                     extra={"fit": f, "fit_seed": f}, **BASE)))  # type: ignore[arg-type]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=400)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sd_test, sd_sample = 0.1, 0.1
    print(f"sd_test {sd_test}, sd_sample {sd_sample}, seeds {args.seeds}, B {args.bootstrap}, reps {args.reps}")
    print("| fits | sd_train | coverage of mu | mean width | false order (two rows of one generator) |")
    print("|---|---|---|---|---|")
    for sd_train in (0.0, 0.1, 0.3):
        for fits in (1, 2, 3, 5):
            rng = np.random.default_rng([args.seed, fits, int(sd_train * 100)])
            hit, width, order = 0, [], 0
            for _ in range(args.reps):
                shared = rng.normal(0, sd_test, args.bootstrap)
                test_shift = rng.normal(0, sd_test)
                recs = (records(rng, "a", fits, args.seeds, (sd_train, sd_sample), test_shift, shared)
                        + records(rng, "b", fits, args.seeds, (sd_train, sd_sample), test_shift, shared))
                board = build_boards(recs)[0]
                cell = {g: c["m"] for g, _, c in board.rows}["a"]
                assert cell.lo is not None and cell.hi is not None
                hit += cell.lo <= 1.0 <= cell.hi
                width.append(cell.hi - cell.lo)
                order += len(set(board.rank_intervals("m").values())) > 1
            print(f"| {fits} | {sd_train} | {hit / args.reps:.3f} | {np.mean(width):.3f} | {order / args.reps:.3f} |")


if __name__ == "__main__":
    main()
