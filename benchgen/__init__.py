"""benchgen: an evaluation-first benchmarking toolkit for generative models of 3D brain MRI."""

from typing import Any

from benchgen.version import __version__

__all__ = ["__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    """``benchgen.evaluate(real, synthetic, metrics=[...])`` without importing torch on ``import benchgen``."""
    if name == "evaluate":
        from benchgen.score.evaluate import evaluate  # the public entry, lazily

        return evaluate
    raise AttributeError(f"module 'benchgen' has no attribute {name!r}")
