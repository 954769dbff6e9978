"""Do the leaderboard's 95% intervals cover the truth, and do its rank intervals separate only what differs?

    python benchmarks/ci_coverage.py [--reps 100] [--bootstrap 200] [--png docs/img/ci_coverage.png]

Simulates the healthy_t1 quick board many times over with known distributions: the phantom cohort at the quick
size (16×24×16, the suite's own data chain), split once into a training set, a *truth* pool and a *draw* pool.
Every repetition draws a fresh real set (60 scans) and, per evaluation seed (2), fresh synthetic sets (48) of
three generators:

* ``same`` and ``same-2``: phantoms, i.e. the real distribution itself (two independent generators);
* ``noisy``: phantoms with additive Gaussian noise (std 0.05, the metric sanity suite's ``noise-mid``).

Each set is scored by the suite's metric plugins with the suite's parameters (B bootstrap replicates), the
records become a board with the leaderboard's own code (`benchgen.board.build.build_boards`), and the script
counts how often each cell's printed interval covers the truth:

* population values where the metric has one: 0 for MMD, KID and FRD on ``same``; on ``noisy`` MMD and KID
  from large disjoint truth sets (both unbiased), FRD by FD∞ extrapolation on them, MS-SSIM as the mean over
  20,000 random pairs of the truth pool;
* PRDC and memorization have no population value independent of n (their k-NN radii and the threshold shrink
  with n): their truth is the estimator's expectation at the board's n, the mean of `--truth-draws` extra
  independent draws.

It also prints how often ``same`` and ``same-2`` get disjoint rank intervals (a false order; goal ≤ 5 %) and how
often ``noisy`` is separated from ``same`` (power). 40 repetitions take about 35 minutes on a 2-core CPU
(``--jobs 2``).

    python benchmarks/ci_coverage.py --utility [--reps 40] [--truth-draws 200] [--bootstrap 200] [--refits 25]

covers `utility` instead: ΔAUC (logistic on the default features, ratio 1) of a few-shot phantom cohort
(ftd-like vs healthy at atrophy 0.3, 16×24×16, bias off, as the few-shot quick profile). Every repetition
draws 20 + 20 training and 60 + 60 test scans from a real pool and 20 + 20 "synthetic" scans from a second
phantom pool (a generator that samples the population itself); the truth is the expected ΔAUC over those
draws (the mean over ``--truth-draws`` extra draws). Prints the coverage of the percentile and basic intervals
from the same replicates.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchgen.board.build import build_boards
from benchgen.data.load import load_data
from benchgen.functional import frechet, kid, mmd, msssim
from benchgen.interfaces import MetricContext, MetricResult
from benchgen.score.score import score_metric, stored_details
from benchgen.suite.load import load_suite, with_bootstrap
from benchgen.volumes import Cohort

SUITE = Path(__file__).with_name("healthy_t1.toml")
GENERATORS = ("same", "same-2", "noisy")
NOISE = 0.05
GOAL = (0.90, 0.99)
N_DEPENDENT = ("prdc", "memorization")  # estimands that depend on n: truth = the estimator's mean at n
# Where the range of a metric ends: a truth there is covered by any interval that reaches it, so coverage 1.00
# is expected and not counted against the goal (FD ≥ 0; shares in [0, 1]).
BOUNDS = {"frd": (0.0, None), "memorization.copies": (0.0, 1.0), "prdc.precision": (0.0, 1.0),
          "prdc.recall": (0.0, 1.0), "prdc.coverage": (0.0, 1.0), "prdc.density": (0.0, None),
          "memorization.authpct": (0.0, 100.0)}


def noisy(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(x + rng.normal(0.0, NOISE, x.shape).astype(np.float32), 0.0, 1.0)


def cohort(x: np.ndarray, affine: Any, label: str) -> Cohort:
    return Cohort(torch.from_numpy(np.ascontiguousarray(x[:, None])), affine, [f"{label}-{i}" for i in range(len(x))])


class Simulation:
    def __init__(self, args: argparse.Namespace):
        over = [f"dataset.params.n_subjects={args.pool}", "dataset.split={train=0.05, val=0.5, test=0.45}"]
        self.suite = load_suite(SUITE, "quick", over)
        data = load_data(self.suite)
        sp = data.splits
        self.affine = sp.test.affine
        self.train = sp.train
        self.truth_pool = sp.val.numpy() if sp.val is not None else None
        self.draw_pool = sp.test.numpy()
        self.n_real, self.n_syn, self.seeds = args.n_real, args.n_synthetic or self.suite.n_samples, self.suite.seeds
        specs = self.suite.metrics.items()
        self.metrics = {label: with_bootstrap(spec, args.bootstrap).build() for label, spec in specs}
        self.metrics_noboot = {label: with_bootstrap(spec, 0).build() for label, spec in specs}
        print(f"pool: {len(self.train)} train, {len(self.truth_pool)} truth, {len(self.draw_pool)} draw volumes of "
              f"{self.suite.shape}; n_real {self.n_real}, n_synthetic {self.n_syn}, seeds {self.seeds}, "
              f"B {args.bootstrap}", flush=True)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
        """A real set and, per generator and seed, a synthetic set: disjoint draws from the draw pool."""
        need = self.n_real + len(GENERATORS) * len(self.seeds) * self.n_syn
        idx = rng.permutation(len(self.draw_pool))[:need]
        real = self.draw_pool[idx[: self.n_real]]
        rest = iter(np.split(idx[self.n_real:], len(GENERATORS) * len(self.seeds)))
        sets = {g: [self.draw_pool[next(rest)] for _ in self.seeds] for g in GENERATORS}
        sets["noisy"] = [noisy(x, rng) for x in sets["noisy"]]
        return real, sets

    def records(self, real: np.ndarray, sets: dict[str, list[np.ndarray]], metrics: dict[str, Any]
                ) -> list[dict[str, Any]]:
        """The board records of one repetition, as the runner would store them."""
        real_c = cohort(real, self.affine, "real")
        out = []
        for g, per_seed in sets.items():
            for seed, x in zip(self.seeds, per_seed):
                ctx = MetricContext(seed=seed)
                for label, metric in metrics.items():
                    for column, res in score_metric(metric, label, cohort(x, self.affine, g), real_c, self.train, ctx):
                        if res.status != "ok" and (res.details or {}).get("marker"):
                            continue
                        out.append({"suite": "sim", "suite_version": "1", "profile": "quick", "n_real": len(real),
                                    "n_synthetic": len(x), "generator": g, "generator_plugin": g,
                                    "generator_config_hash": g, "metric": column, "metric_params": {},
                                    "primary_metric": "mmd", "higher_is_better": res.higher_is_better,
                                    "value": res.value, "ci_low": res.ci[0] if res.ci else None,
                                    "ci_high": res.ci[1] if res.ci else None, "reference": res.reference,
                                    "status": res.status, "message": res.message, "seed": seed,
                                    "details": stored_details(res), "sampler": {}})
        return out


def population_truth(sim: Simulation) -> dict[tuple[str, str], float]:
    """Population values from the truth pool (split in halves: "real" and "synthetic")."""
    pool = sim.truth_pool
    half = len(pool) // 2
    a, b = pool[:half], pool[half:]
    b_noisy = noisy(b, np.random.default_rng(12345))
    from benchgen_metrics import common

    extractor = common.make_extractor("frd", "radiomics", None)  # the metrics' features, z-scored like them

    def feats(x: np.ndarray) -> np.ndarray:
        return np.asarray(extractor.extract(torch.from_numpy(x[:, None]), "cpu"), np.float64)

    za, zb = common.zscore_against_real(feats(a), feats(b_noisy))
    xa, xb = a.reshape(len(a), -1).astype(np.float64), b_noisy.reshape(len(b), -1).astype(np.float64)
    kxx, kyy, kxy = mmd.gram_blocks(torch.from_numpy(xa), torch.from_numpy(xb))
    kid_p = sim.suite.metrics["kid"].params
    pxx, pyy, pxy, _ = kid.polynomial_gram(za, zb, kid_p.degree, kid_p.gamma, kid_p.coef0)
    subs = kid.subset_indices(len(za), len(zb), 1, 0, 0)
    fd_inf = frechet.frechet_distance_inf(za, zb, 15, 0.5, 4, seed=0).value
    ms = sim.suite.metrics["ms-ssim"].params
    truth = {("mmd", "same"): 0.0, ("kid", "same"): 0.0, ("frd", "same"): 0.0,
             ("mmd", "noisy"): float(mmd.mmd_from_gram(kxx, kyy, kxy)),
             ("kid", "noisy"): float(kid.kid_from_gram(pxx, pyy, pxy, subs).mean()),
             ("frd", "noisy"): float(fd_inf)}
    for g, x in (("same", a), ("noisy", b_noisy)):
        pairs = msssim.sample_pairs(len(x), 20_000, 7)
        vals = msssim.ms_ssim_within(torch.from_numpy(x[:, None]), ms.data_range, ms.kernel_size, ms.kernel_sigma,
                                     ms.scales, None, ms.k1, ms.k2, pairs=pairs)
        truth[("ms-ssim", g)] = float(np.mean(vals))
    return truth


SIM: Simulation | None = None  # shared with worker processes (fork)


def one_rep(rep: int, seed: int) -> dict[str, Any]:
    """One simulated board: per (column, scenario) the printed interval, and the rank intervals."""
    assert SIM is not None
    real, sets = SIM.draw(np.random.default_rng([seed, rep]))
    board = build_boards(SIM.records(real, sets, SIM.metrics))[0]
    cells = {g: c for g, _, c in board.rows}
    out: dict[str, Any] = {"cells": {}, "ranks": {}}
    for column in board.columns:
        for g in ("same", "noisy"):
            c = cells[g][column]
            out["cells"][(column, g)] = (c.mean, c.lo, c.hi)
        out["ranks"][column] = board.rank_intervals(column)
    return out


def truth_draw(rep: int, seed: int) -> list[tuple[tuple[str, str], float]]:
    """The n-dependent metrics' values on one fresh draw (no bootstrap)."""
    assert SIM is not None
    real, sets = SIM.draw(np.random.default_rng([seed, 10**6 + rep]))
    metrics = {k: m for k, m in SIM.metrics_noboot.items() if k in N_DEPENDENT}
    recs = SIM.records(real, {g: sets[g][:1] for g in ("same", "noisy")}, metrics)
    return [((r["metric"], r["generator"]), r["value"]) for r in recs if r["value"] is not None]


def _map(fn: Any, n: int, seed: int, jobs: int, what: str, t0: float) -> list[Any]:
    import multiprocessing as mp

    out = []
    with mp.get_context("fork").Pool(jobs) as pool:
        for i, r in enumerate(pool.imap(functools.partial(fn, seed=seed), range(n))):
            out.append(r)
            if (i + 1) % 10 == 0 or i + 1 == n:
                print(f"{what} {i + 1}/{n} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def utility_main(args: argparse.Namespace) -> None:
    """Coverage of utility's ΔAUC interval for the expected ΔAUC over training, test and synthetic draws."""
    from benchgen_data.phantom import PhantomParams, chained_cohort

    from benchgen import registry
    from benchgen.functional import bootstrap as bs

    t0 = time.perf_counter()
    shape, n_train, n_test = (16, 24, 16), 20, 60

    def pool(seed: int, n: int) -> Cohort:
        p = PhantomParams(voxel_mm=6.0, seed=seed, bias=0.0, atrophy=0.3, conditions={"healthy": n, "ftd-like": n})
        return chained_cohort(p, shape)

    real, synth = pool(30, args.pool_per_class), pool(31, args.pool_per_class // 2)
    print(f"pools ready: {len(real)} + {len(synth)} volumes ({time.perf_counter() - t0:.0f} s)", flush=True)
    by_real = {c: [i for i, m in enumerate(real.metadata) if m["condition"] == c] for c in ("healthy", "ftd-like")}
    by_syn = {c: [i for i, m in enumerate(synth.metadata) if m["condition"] == c] for c in ("healthy", "ftd-like")}
    ctx = MetricContext(seed=0, conditioning="per-condition")

    def draw(rng: np.random.Generator) -> tuple[Cohort, Cohort, Cohort]:
        tr, te, sy = [], [], []
        for c in ("healthy", "ftd-like"):
            idx = rng.permutation(by_real[c])
            tr += list(idx[:n_train])
            te += list(idx[n_train:n_train + n_test])
            sy += list(rng.choice(by_syn[c], n_train, replace=False))
        return real.subset(tr), real.subset(te), synth.subset(sy)

    point = registry.create("metrics", "utility", {"bootstrap": 0, "ratios": [1.0]})
    truth_draws = []
    for k in range(args.truth_draws):
        tr, te, sy = draw(np.random.default_rng([args.seed, 1, k]))
        found = point.score(sy, te, tr, ctx)
        assert isinstance(found, MetricResult) and found.value is not None, found
        truth_draws.append(found.value)
    truth = float(np.mean(truth_draws))
    print(f"truth: expected ΔAUC {truth:+.4f} (sd over draws {np.std(truth_draws):.4f}, {args.truth_draws} draws; "
          f"{time.perf_counter() - t0:.0f} s)", flush=True)
    metric = registry.create("metrics", "utility", {"bootstrap": args.bootstrap, "refits": args.refits,
                                                    "ratios": [1.0]})
    hits: dict[str, list[bool]] = {"percentile": [], "basic": []}
    widths: dict[str, list[float]] = {"percentile": [], "basic": []}
    estimates = []
    for k in range(args.reps):
        tr, te, sy = draw(np.random.default_rng([args.seed, 2, k]))
        res = metric.score(sy, te, tr, ctx)
        assert isinstance(res, MetricResult) and res.value is not None and res.ci is not None, res
        estimates.append(res.value)
        for method in ("percentile", "basic"):
            lo, hi = bs.interval(res.value, np.asarray(res.replicates), method, bounds=(-1.0, 1.0)) or (np.nan,) * 2
            hits[method].append(bool(lo <= truth <= hi))
            widths[method].append(hi - lo)
        print(f"rep {k + 1}/{args.reps}: ΔAUC {res.value:+.3f}, percentile CI ({res.ci[0]:+.3f}, {res.ci[1]:+.3f}) "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{args.reps} repetitions, B = {args.bootstrap}, {args.refits} refits, train {n_train} + {n_train}, "
          f"test {n_test} + {n_test}, synthetic {n_train} + {n_train}; {time.perf_counter() - t0:.0f} s")
    print("| interval | truth | mean estimate | coverage | mean width | 3.92·sd of estimates |")
    print("|---|---|---|---|---|---|")
    for method in hits:
        print(f"| {method} | {truth:+.3f} | {np.mean(estimates):+.3f} | {np.mean(hits[method]):.2f} | "
              f"{np.mean(widths[method]):.3f} | {3.92 * np.std(estimates):.3f} |")


def main() -> None:
    global SIM
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--truth-draws", type=int, default=100, help="draws for the n-dependent truths")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--pool", type=int, default=2000, help="phantom subjects in all (train 5 %%)")
    ap.add_argument("--n-real", type=int, default=60, help="the quick profile's test split")
    ap.add_argument("--n-synthetic", type=int, default=None, help="default: the suite's n_samples (48)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--png", type=Path, default=None, help="write a coverage plot here")
    ap.add_argument("--save", type=Path, default=None, help="write every repetition's cells and ranks (JSON)")
    ap.add_argument("--utility", action="store_true", help="cover utility's ΔAUC instead (see above)")
    ap.add_argument("--refits", type=int, default=25, help="--utility: bootstrap refits")
    ap.add_argument("--pool-per-class", type=int, default=120, help="--utility: real pool scans per class")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.utility:
        utility_main(args)
        return
    t0 = time.perf_counter()
    SIM = sim = Simulation(args)
    truth = population_truth(sim)
    print(f"population truths ready ({time.perf_counter() - t0:.0f} s)", flush=True)
    acc: dict[tuple[str, str], list[float]] = {}
    for draw in _map(truth_draw, args.truth_draws, args.seed, args.jobs, "truth draw", t0) if args.truth_draws else []:
        for key, v in draw:
            acc.setdefault(key, []).append(v)
    truth.update({k: float(np.mean(v)) for k, v in acc.items()})
    reps = _map(one_rep, args.reps, args.seed, args.jobs, "repetition", t0)

    print(f"\n{args.reps} repetitions, B = {args.bootstrap}, n_real {sim.n_real}, n_synthetic {sim.n_syn}, "
          f"{len(sim.seeds)} seeds, {args.truth_draws} truth draws; {time.perf_counter() - t0:.0f} s\n")
    print("| metric | scenario | truth | mean estimate | coverage | below / above | mean width | 3.92·sd of estimates "
          "| within goal | false order (same vs same-2) | separated (noisy vs same) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for key in sorted({k for r in reps for k in r["cells"]}):
        column, g = key
        cells = [r["cells"][key] for r in reps if r["cells"][key][1] is not None]
        if not cells:
            continue
        if key not in truth:  # --truth-draws 0: only the rank columns
            if g == "same":
                fo_, pw_ = _rank_rates(reps, column)
                print(f"| {column} | {g} | — | {np.mean([m for m, _, _ in cells]):.4g} | | | | | | {fo_:.2f} | "
                      f"{pw_:.2f} |")
            continue
        t = truth[key]
        below = np.mean([hi < t for _, _, hi in cells])  # interval entirely below the truth
        above = np.mean([lo > t for _, lo, _ in cells])
        cov = 1.0 - below - above
        half = 1.96 * math.sqrt(max(cov * (1 - cov), 1e-9) / len(cells))
        bound = t in BOUNDS.get(column, ())
        ok = "yes" if GOAL[0] <= cov <= GOAL[1] else "truth at a bound" if bound and cov > GOAL[1] else "**no**"
        fo = pw = ""
        if g == "same":
            fo, pw = (f"{x:.2f}" for x in _rank_rates(reps, column))
        means = [m for m, _, _ in cells]
        print(f"| {column} | {g} | {t:.4g} | {np.mean(means):.4g} | {cov:.2f} ± {half:.2f} | {below:.2f} / {above:.2f} "
              f"| {np.mean([hi - lo for _, lo, hi in cells]):.3g} | {3.92 * np.std(means, ddof=1):.3g} | {ok} | {fo} "
              f"| {pw} |")
        rows.append((f"{column} ({g})", cov, half))
    if args.save:
        args.save.write_text(json.dumps({"truth": {"|".join(k): v for k, v in truth.items()},
                                         "reps": [{"cells": {"|".join(k): v for k, v in r["cells"].items()},
                                                   "ranks": r["ranks"]} for r in reps]}))
    if args.png:
        plot(rows, args.png, args.reps)
        print(f"\nwrote {args.png}")


def _rank_rates(reps: list[dict[str, Any]], column: str) -> tuple[float, float]:
    """How often `same` and `same-2` got disjoint rank intervals (a false order), and `same` and `noisy` (power)."""
    ranks = [r["ranks"][column] for r in reps if column in r["ranks"]]
    return tuple(float(np.mean([_apart(rk["same"], rk[other]) for rk in ranks]))  # type: ignore[return-value]
                 for other in ("same-2", "noisy"))


def _apart(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def plot(rows: list[tuple[str, float, float]], path: Path, reps: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ax.axvspan(*GOAL, color="#e6f4e6", label=f"goal {GOAL[0]:.2f}–{GOAL[1]:.2f}")
    ax.errorbar([r[1] for r in rows], y, xerr=[r[2] for r in rows], fmt="o", color="k", capsize=2)
    ax.axvline(0.95, color="grey", ls=":", lw=1)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(-0.02, 1.02)
    ax.invert_yaxis()
    ax.set_xlabel(f"coverage of the board's 95% intervals ({reps} repetitions, ±95% binomial)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
