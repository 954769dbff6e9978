"""Print the metric sanity table (docs/metrics.md) for benchmarks/metric_sanity.toml.

    python benchmarks/metric_sanity_table.py [--profile quick] [--bootstrap 50]

Loads the suite's data with the runner's cached loader, fits every generator (holdout + degraded variants),
draws `n_samples` with the first evaluation seed and scores every metric through the plugin API; prints
one Markdown row per generator: value [95% CI] per metric (MS-SSIM: synthetic / real reference).
The same numbers as `benchgen run benchmarks/metric_sanity.toml`, without the result store.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchgen import paths
from benchgen.data.load import load_data
from benchgen.hashing import fingerprint
from benchgen.interfaces import FitContext, MetricContext
from benchgen.score.score import score_metric
from benchgen.suite.load import load_suite, with_bootstrap
from benchgen.volumes import Cohort


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default=str(Path(__file__).with_name("metric_sanity.toml")))
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--bootstrap", type=int, default=None, help="override the suite's B")
    args = ap.parse_args()
    suite = load_suite(args.suite, args.profile)
    data = load_data(suite)
    sp = data.splits
    b = suite.bootstrap if args.bootstrap is None else args.bootstrap
    seed = suite.seeds[0]
    ctx = MetricContext(seed=seed, cache_dir=paths.cache_dir("features"),
                        real_fingerprint=fingerprint([data.fingerprint, "test"]))
    metrics = {label: with_bootstrap(spec, b).build() for label, spec in suite.metrics.items()}
    rows: dict[str, dict[str, str]] = {}
    for label, spec in suite.generators.items():
        gen = spec.build()
        with tempfile.TemporaryDirectory() as tmp:
            gen.fit(sp.train, FitContext(workdir=Path(tmp), seed=seed, val=sp.val, quiet=True))
        syn = gen.sample(suite.n_samples, seed)
        syn_c = Cohort(syn, sp.test.affine, [f"{label}-{i}" for i in range(len(syn))])
        row: dict[str, str] = {}
        for mlabel, metric in metrics.items():
            for col, r in score_metric(metric, mlabel, syn_c, sp.test, sp.train, ctx):
                if r.value is None:
                    row[col] = r.status if r.status != "error" else f"error: {r.message}"
                    continue
                cell = f"{r.value:.3g}"
                if r.reference is not None:
                    cell += f" / {r.reference:.3g}"
                if r.ci:
                    cell += f" [{r.ci[0]:.3g}, {r.ci[1]:.3g}]"
                row[col] = cell
        rows[label] = row
        print(f"done {label}", flush=True)
    cols = list(next(iter(rows.values())))
    print(f"\nsuite {suite.name} profile {suite.profile}: shape {suite.shape}, {len(sp.test)} real (test) vs "
          f"{suite.n_samples} synthetic, seed {seed}, B={b}\n")
    print("| generator | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for label, row in rows.items():
        print(f"| {label} | " + " | ".join(row.get(c, "") for c in cols) + " |")


if __name__ == "__main__":
    main()
