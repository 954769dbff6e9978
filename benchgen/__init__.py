"""benchgen: an evaluation-first benchmarking toolkit for generative models of 3D brain MRI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("benchgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
