"""Synthetic records shaped like the healthy_t1 quick board (5 generators + the real row, 8 columns)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tests.core.test_store import make_record

# generator -> metric -> per-seed (value, ci_low, ci_high); README's quick-board magnitudes
HEALTHY: dict[str, dict[str, list[tuple[float, float, float]]]] = {
    "holdout": {"mmd": [(-0.4, -2.1, 1.9), (0.16, -1.8, 2.2)], "frd": [(3.85, 1.2, 9.7), (4.61, 1.9, 11.3)]},
    "gaussian": {"mmd": [(0.221, -3.1, 4.4), (0.78, -2.6, 5.2)], "frd": [(318.2, 290.4, 351.9), (339.1, 310.2, 372.6)]},
    "ddpm": {"mmd": [(2.09, 0.55, 3.71), (2.39, 0.81, 4.02)], "frd": [(298.5, 270.1, 333.2), (309.6, 280.9, 344.8)]},
    "memorizer": {"mmd": [(2.2, 1.48, 3.01), (2.28, 1.52, 3.11)], "frd": [(2.91, 0.87, 7.15), (3.35, 1.02, 8.66)]},
    "noise": {"mmd": [(1158.4, 1141.2, 1174.9), (1159.9, 1143.8, 1176.1)],
              "frd": [(10489.7, 10352.5, 10633.1), (10511.2, 10371.9, 10648.7)]},
}
OTHER = {"ms-ssim": 0.9, "prdc.precision": 0.51, "prdc.recall": 0.49, "prdc.density": 0.62,
         "prdc.coverage": 0.45, "memorization": 0.0312}
HIGHER = {"prdc.precision", "prdc.recall", "prdc.density", "prdc.coverage"}


def healthy_records(seeds: int = 2) -> list[dict[str, Any]]:
    out = []
    for g, (gen, mets) in enumerate(HEALTHY.items()):
        for seed in range(seeds):
            cols: dict[str, tuple[float, float, float]] = {m: v[seed] for m, v in mets.items()}
            for m, base in OTHER.items():
                v = base * (1 + 0.013 * g + 0.021 * seed)
                cols[m] = (v, v * 0.83, v * 1.12)
            for m, (v, lo, hi) in cols.items():
                out.append(asdict(make_record(
                    f"{gen}-{seed}-{m}", suite="healthy_t1", suite_version="1.0", profile="quick",
                    primary_metric="mmd", generator=gen, generator_plugin=gen, generator_config_hash=f"{gen}hash0",
                    metric=m, metric_plugin=m.split(".")[0], higher_is_better=m in HIGHER, value=v, ci_low=lo,
                    ci_high=hi, reference=0.907 if m == "ms-ssim" else None, n_real=60, n_synthetic=48,
                    seed=seed)))
    return out
