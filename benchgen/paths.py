"""Where benchgen keeps things. One documented root, ``$BENCHGEN_HOME`` or ``./.benchgen``:

* ``results.sqlite`` — the result store (``--results PATH`` overrides);
* ``cache/`` — content-addressed caches, keyed by fingerprints of what made them:
  ``datasets/`` (preprocessed cohorts), ``checkpoints/`` (fitted generators), ``samples/``,
  ``features/`` (real-set features); ``benchgen cache list|clear`` manages it;
* ``runs/`` — montages, loss curves and sample NIfTI files of each run.
"""

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("BENCHGEN_HOME", ".benchgen")).expanduser()


def cache_dir(kind: str | None = None) -> Path:
    root = Path(os.environ["BENCHGEN_CACHE"]).expanduser() if "BENCHGEN_CACHE" in os.environ else home() / "cache"
    return root / kind if kind else root


def default_results() -> Path:
    return home() / "results.sqlite"


def runs_dir() -> Path:
    return home() / "runs"
