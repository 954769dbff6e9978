"""The installed benchgen version (a module of its own, so recording it imports nothing else of ours)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("benchgen")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
