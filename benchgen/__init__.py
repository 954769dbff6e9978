"""benchgen: an evaluation-first benchmarking toolkit for generative models of 3D brain MRI."""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("benchgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    """``benchgen.evaluate(real, synthetic, metrics=[...])`` without importing torch on ``import benchgen``."""
    if name == "evaluate":
        from benchgen.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'benchgen' has no attribute {name!r}")
