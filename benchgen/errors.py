"""Errors a user can cause. The CLI renders them as one line (plus a hint); tracebacks only with --debug."""


class BenchgenError(Exception):
    """Base class for user-facing errors: bad input, bad configuration, missing files or weights.

    `debug_details` is optional text (typically the traceback of the plugin code that failed) that the
    CLI prints before the one-line message only with ``--debug``; code that re-raises a BenchgenError
    as another one passes it on (``debug_details=exc.debug_details``).
    """

    debug_details: str | None = None

    def __init__(self, message: str, hint: str | None = None, *, debug_details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.debug_details = debug_details

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(BenchgenError):
    """A suite file, plugin parameter or CLI option is wrong."""


class PluginError(BenchgenError):
    """A plugin is unknown, broken or its name is ambiguous. `details`: the import traceback of a broken one."""

    def __init__(self, message: str, hint: str | None = None, details: str | None = None):
        super().__init__(message, hint, debug_details=details)

    @property
    def details(self) -> str | None:
        return self.debug_details


class DataError(BenchgenError):
    """An input volume or dataset cannot be used (unreadable, wrong shape, NaN, ...)."""


class WriteError(DataError, OSError):
    """A file could not be written (a full disk, a read-only folder, a quota): one line naming the file,
    where the OSError would name none. Still an ``OSError`` (``errno``, ``filename``), so code that
    tolerates unwritable caches keeps doing so."""

    def __init__(self, path: object, errno: int | None, strerror: str | None):
        OSError.__init__(self, errno, strerror, str(path))
        self.message = f"{path}: cannot write ({strerror or 'error ' + str(errno)})"
        self.hint = ("free space on that disk, or set BENCHGEN_HOME (or the output folder) to one with room"
                     if errno == 28 else "check that the folder exists and is writable")
        self.debug_details = None

    def __reduce__(self) -> tuple[object, ...]:  # pickled back from preprocessing workers
        return (type(self), (self.filename, self.errno, self.strerror))

    __str__ = BenchgenError.__str__


class MetricError(BenchgenError):
    """A metric cannot be computed on the given sets (shape mismatch, too few volumes, ...)."""


class MissingWeightsError(BenchgenError):
    """Pretrained weights are needed but not available locally; the message says what to fetch."""
