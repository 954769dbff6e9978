"""Trains the ddpm plugin on a tiny MNI152-derived cohort in its own process (for the kill -9 + resume
test and the 2-process `accelerate launch` test). Prints one ``RESULT {json}`` line per process."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import torch

torch.set_num_threads(1)  # identical kernels in every run, so trajectories can be compared exactly

from benchgen_ddpm.testing import mni_cohort  # noqa: E402

from benchgen import registry  # noqa: E402
from benchgen.interfaces import FitContext  # noqa: E402


def digest(weights: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(weights):
        h.update(k.encode())
        h.update(weights[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--params", default="{}")
    ap.add_argument("--plugin", default="ddpm", help="ddpm, or ldm (the same loop, two stages)")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--sleep", type=float, default=0.0, help="seconds to wait after each step")
    ap.add_argument("--per-rank", action="store_true", help="workdir/rank<R> and save to ckpt<R>")
    args = ap.parse_args()
    rank = int(os.environ.get("RANK", "0"))
    base = Path(args.workdir)
    workdir = base / f"rank{rank}" if args.per_rank else base
    gen = registry.create("generators", args.plugin, json.loads(args.params))
    train = mni_cohort(args.n, (8, 12, 8), seed=0)
    val = mni_cohort(3, (8, 12, 8), seed=1)
    gen.fit(train, FitContext(workdir=workdir, seed=1, val=val,
                              progress=lambda *a, **k: time.sleep(args.sleep)))
    if args.per_rank:
        gen.save(base / f"ckpt{rank}")
    out = {"rank": rank, "weights": digest(gen._model.state_dict()), "info": gen.train_info}
    if getattr(gen, "_autoencoder", None) is not None:
        out["autoencoder"] = digest(gen._autoencoder.state_dict())
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
