"""What a profile that `--profile auto` did not start would cost: GPU-hours estimated from FLOP counts.

Each generator plugin may count the floating-point operations of its fit and sampling from its configuration
(:meth:`benchgen.interfaces.Generator.estimate_flops`); the total is divided by an assumed sustained
throughput. It is an estimate from arithmetic, never a measurement: memory traffic, data loading and
the GPU's real utilisation can move it several-fold either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

ASSUMED_FLOP_PER_S = 50e12  # sustained: about a third of a current data-centre GPU's mixed-precision peak


@dataclass(frozen=True)
class ProfileCost:
    profile: str
    shape: tuple[int, int, int]
    flops: dict[str, float]  # generator label -> FLOPs of its fit and all its samples
    not_estimated: list[str]  # generators whose plugin gives no count (the baselines cost little)

    @property
    def gpu_hours(self) -> float:
        return sum(self.flops.values()) / ASSUMED_FLOP_PER_S / 3600

    def text(self, suite_path: Path) -> str:
        counted = ", ".join(f"{g} {f:.2g} FLOP" for g, f in self.flops.items())
        return (f"profile {self.profile} (not started; {'×'.join(map(str, self.shape))}): {counted} ≈ "
                f"{self.gpu_hours:.0f} GPU-hours at an assumed {ASSUMED_FLOP_PER_S / 1e12:.0f} TFLOP/s sustained "
                f"(an estimate from the FLOP count, not a measurement) · start it with "
                f"`benchgen run {suite_path} --profile {self.profile}`")


def n_train(document: dict[str, Any], split: dict[str, float]) -> int | None:
    """Training volumes of a suite whose dataset says how many subjects it has (the phantom's n_subjects)."""
    params = (document.get("dataset") or {}).get("params") or {}
    n = params.get("n_subjects") if isinstance(params, dict) else None
    return round(int(n) * split.get("train", 0.0)) if isinstance(n, int) else None


def profile_cost(suite_path: Path, profile: str = "paper", sets: Sequence[str] = ()) -> ProfileCost | None:
    """The cost of `profile` of a suite, or None when it has no such profile or no generator can count."""
    from benchgen.suite.load import load_suite

    suite = load_suite(suite_path, profile, sets)
    n = n_train(suite.document, suite.split)
    if n is None:
        return None
    flops: dict[str, float] = {}
    missing = []
    for label, spec in suite.generators.items():
        f = spec.build().estimate_flops(suite.shape, n, suite.n_samples * len(suite.seeds))
        if f is None:
            missing.append(label)
        else:
            flops[label] = f
    return ProfileCost(profile, suite.shape, flops, missing) if flops else None
