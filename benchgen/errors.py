"""Errors a user can cause. The CLI renders them as one line (plus a hint); tracebacks only with --debug."""


class BenchgenError(Exception):
    """Base class for user-facing errors: bad input, bad configuration, missing files or weights."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(BenchgenError):
    """A suite file, plugin parameter or CLI option is wrong."""


class PluginError(BenchgenError):
    """A plugin is unknown, broken or registered twice."""


class DataError(BenchgenError):
    """An input volume or dataset cannot be used (unreadable, wrong shape, NaN, ...)."""


class MetricError(BenchgenError):
    """A metric cannot be computed on the given sets (shape mismatch, too few volumes, ...)."""


class MissingWeightsError(BenchgenError):
    """Pretrained weights are needed but not available locally; the message says what to fetch."""
