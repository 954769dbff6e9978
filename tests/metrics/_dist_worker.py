"""Run by test_distributed.py in each of 2 processes (and in 1): scores and features to RANK.json."""

import json
import os
import sys

from benchgen_metrics.distributed import extract_split

from benchgen import registry
from benchgen.interfaces import MetricContext

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.metrics.conftest import cohort, make_brains  # noqa: E402


def main(out_dir: str) -> None:
    real, syn = cohort(make_brains(9, seed=1)), cohort(make_brains(7, seed=2))
    ms = registry.create("metrics", "ms-ssim", {"kernel_size": 3, "scales": 3, "bootstrap": 20})
    r = ms.score(syn, real, None, MetricContext(seed=0))
    fid = registry.create("metrics", "frd", {"bootstrap": 20}).score(syn, real, None, MetricContext(seed=0))
    feats = extract_split(registry.create("features", "radiomics", {}), real.data, "cpu")
    rank = os.environ.get("RANK", "0")
    with open(os.path.join(out_dir, f"{rank}-{os.environ.get('WORLD_SIZE', '1')}.json"), "w") as f:
        json.dump({"msssim": r.value, "reference": r.reference, "ci": r.ci, "fid": fid.value, "fid_ci": fid.ci,
                   "features": feats.tolist()}, f)


if __name__ == "__main__":
    main(sys.argv[1])
