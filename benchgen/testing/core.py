"""The machinery of the plugin checks: results, failures, the per-kind lists of checks and the
:class:`Checker` that runs them on one plugin, sharing what they build (a fitted generator, its samples).

A check is a plain function ``fn(checker) -> str | None`` registered with :func:`contract_check` in the
list of its kind (:data:`CHECKS`). It raises :class:`ContractFailure` when the plugin breaks the contract
and :class:`CheckSkipped` for a real reason it cannot be checked here (weights not on the machine);
any other exception is the plugin failing that check, reported with the plugin's traceback. A check
that ``requires`` another one runs only once that one passed.
"""

from __future__ import annotations

import difflib
import shutil
import sys
import tempfile
import time
import traceback as tb_module
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

from benchgen import registry
from benchgen.errors import ConfigError, MissingWeightsError, PluginError
from benchgen.interfaces import KINDS, Plugin
from benchgen.params import parse_params
from benchgen.testing.data import CONDITIONS, SHAPE, tiny_cohorts

CheckStatus = Literal["pass", "fail", "skip"]


class ContractFailure(AssertionError):
    """A plugin broke one check of its contract. An AssertionError, so pytest reports it as a failure."""

    def __init__(self, check: str, message: str, traceback: str | None = None):
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message
        self.traceback = traceback  # the plugin's traceback as text, where there is no exception to chain


class CheckSkipped(unittest.SkipTest):
    """A check cannot run here for a real reason (pretrained weights not on this machine, required file
    parameters unknown). A ``unittest.SkipTest``, so pytest and unittest report it as a skip."""


@dataclass
class CheckResult:
    """The outcome of one check: ``status`` is "pass", "fail" or "skip"; ``traceback`` is the plugin's
    traceback when the plugin raised (None otherwise)."""

    name: str
    status: CheckStatus
    message: str = ""
    traceback: str | None = None
    seconds: float = 0.0
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def skipped(self) -> bool:
        return self.status == "skip"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "message": self.message,
                "seconds": round(self.seconds, 3), "traceback": self.traceback}


CheckFn = Callable[["Checker"], "str | None"]
NOT_RUN = "not run: "  # how the message of a check skipped for a requirement begins


@dataclass(frozen=True)
class Check:
    """One named check of a plugin kind; `doc` (the function's first docstring line) says what it demands."""

    name: str
    kind: str
    fn: CheckFn
    requires: tuple[str, ...] = ()
    doc: str = ""


# One ordered list of checks per kind; a check's requirements come before it.
CHECKS: dict[str, list[Check]] = {kind: [] for kind in KINDS}


def normalize_kind(kind: str) -> str:
    """'generators' or 'generator' -> 'generators'; anything else is a ConfigError listing the kinds."""
    k = kind.strip().lower()
    if k in KINDS:
        return k
    if k + "s" in KINDS:
        return k + "s"
    raise ConfigError(f"unknown plugin kind '{kind}'; choose one of {', '.join(KINDS)}")


def contract_check(kind: str | Sequence[str], name: str, *, requires: Sequence[str] = ("build",),
                   before: str | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(checker)`` as check `name` of `kind` (one kind or several), after its requirements
    (at the end of the list, or just before the check named `before`). Returns the function unchanged."""
    kinds = [kind] if isinstance(kind, str) else list(kind)

    def deco(fn: CheckFn) -> CheckFn:
        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        for k in map(normalize_kind, kinds):
            checks = CHECKS[k]
            if any(c.name == name for c in checks):
                raise ValueError(f"a {k[:-1]} check named '{name}' is already registered")
            known = {c.name for c in checks}
            missing = [r for r in requires if r not in known]
            if missing:
                raise ValueError(f"check '{name}' requires {missing}, which are not registered for {k} before it")
            entry = Check(name, k, fn, tuple(requires), " ".join(doc.split()))
            at = next((i for i, c in enumerate(checks) if c.name == before), len(checks)) if before else len(checks)
            checks.insert(at, entry)
        return fn

    return deco


def check_names(kind: str) -> list[str]:
    """The names of the checks of one plugin kind, in the order they run."""
    return [c.name for c in CHECKS[normalize_kind(kind)]]


def find_kind(name: str, kind: str | None = None) -> str:
    """The kind of the installed plugin called `name`. With `kind`, check that it exists there; without
    it, the name must belong to exactly one kind (else a one-line ConfigError listing its kinds)."""
    if kind is not None:
        kind = normalize_kind(kind)
        table = registry.entries(kind)
        if name not in table:
            close = difflib.get_close_matches(name, table, n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
                f"available: {', '.join(sorted(table)) or '(none installed)'}"
            raise PluginError(f"unknown {kind[:-1]} plugin '{name}'", hint)
        return kind
    kinds = [k for k in KINDS if name in registry.entries(k)]
    if len(kinds) > 1:
        raise ConfigError(f"'{name}' names plugins of several kinds ({', '.join(kinds)}); choose one with --kind")
    if not kinds:
        every = sorted({n for k in KINDS for n in registry.entries(k)})
        close = difflib.get_close_matches(name, every, n=3, cutoff=0.5)
        raise PluginError(f"no installed plugin named '{name}'",
                          f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "see `benchgen list`")
    return kinds[0]


def _location(exc: BaseException, roots: Sequence[Path]) -> str:
    """'pkg/module.py:12 in fn' of the innermost frame under one of `roots` (the plugin's package), or of
    the innermost frame at all."""
    frames = tb_module.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    inside = [f for f in frames if any(Path(f.filename).resolve().is_relative_to(r) for r in roots)]
    frame = (inside or frames)[-1]
    path = Path(frame.filename)
    return f"{path.parent.name}/{path.name}:{frame.lineno} in {frame.name}"


HERE = Path(__file__).resolve().parent


def plugin_traceback(exc: BaseException) -> str:
    """The traceback of `exc` as text, starting at the first frame outside benchgen.testing (the plugin's)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and \
            Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(HERE):
        tb = tb.tb_next
    return "".join(tb_module.format_exception(type(exc), exc, tb))


class Checker:
    """Runs the checks of one plugin — an installed plugin's name, or a plugin class (not necessarily
    registered) — built with its ``tiny_params`` updated by `params`, on tiny inputs of `shape`.

    Results are cached: :meth:`run` runs a check (after its requirements) once; what checks build is
    shared (``memo``), so a generator is fitted once for all its checks. Use it as a context manager,
    or call :meth:`close`, to delete the temporary folder it works in (unless `workdir` was given).
    """

    def __init__(self, kind: str, plugin: str | type[Plugin], params: Mapping[str, Any] | None = None, *,
                 shape: Sequence[int] = SHAPE, name: str | None = None, workdir: str | Path | None = None,
                 checks: Sequence[Check] | None = None):
        self.kind = normalize_kind(kind)
        self._given_cls: type[Plugin] | None = None
        if isinstance(plugin, str):
            self.name = name or plugin
        elif isinstance(plugin, type):
            self._given_cls = plugin
            own = getattr(plugin, "name", "?")
            self.name = name or (own if isinstance(own, str) and own != "?" else plugin.__name__)
        else:
            raise TypeError(f"plugin must be a registered name or a plugin class, not {type(plugin).__name__}")
        self.overrides = dict(params or {})
        self.shape: tuple[int, int, int] = tuple(int(s) for s in shape)  # type: ignore[assignment]
        if len(self.shape) != 3:
            raise ConfigError(f"shape must have 3 sizes (D, H, W), got {tuple(shape)}")
        self.checks: list[Check] = list(checks) if checks is not None else list(CHECKS[self.kind])
        self.results: dict[str, CheckResult] = {}
        self.state: dict[str, Any] = {}  # what checks share: "cls", "plugin", "params", ...
        self._memo: dict[str, tuple[bool, Any]] = {}
        self.current: str | None = None  # the check running now
        self._workdir = Path(workdir) if workdir is not None else None
        self._tmp: Path | None = None

    # ------------------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Checker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Delete the temporary working folder (a given `workdir` is left alone)."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @property
    def workdir(self) -> Path:
        """The folder checks write into (checkpoints, tiny input files), made on first use."""
        if self._workdir is not None:
            self._workdir.mkdir(parents=True, exist_ok=True)
            return self._workdir
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix=f"benchgen-check-{self.name}-"))
        return self._tmp

    def folder(self, name: str, create: bool = True) -> Path:
        """A new, empty folder ``workdir/name`` (with ``create=False``: a path where nothing exists yet)."""
        path = self.workdir / name
        if path.exists():
            shutil.rmtree(path)
        if create:
            path.mkdir(parents=True)
        return path

    # -------------------------------------------------------------------------- the plugin
    def load_class(self) -> type[Plugin]:
        """The plugin's class: the given one, or imported through the registry (PluginError if broken)."""
        if self._given_cls is not None:
            return self._given_cls
        return registry.load_class(self.kind, self.name)

    @property
    def registered(self) -> bool:
        """True when the plugin is looked up by name in the registry (not given as a class)."""
        return self._given_cls is None

    @property
    def cls(self) -> type[Plugin]:
        return self.state["cls"]

    @property
    def plugin(self) -> Any:
        """The instance built by the ``build`` check (fitted in place by a generator's ``fit`` check)."""
        return self.state["plugin"]

    @property
    def params(self) -> dict[str, Any]:
        """The params the plugin is built with: its tiny_params updated by the given ones."""
        return self.state["params"]

    def build(self, params: Mapping[str, Any] | None = None) -> Any:
        """A new instance with `params` (default: :attr:`params`), validated like a suite's."""
        params = dict(self.params if params is None else params)
        if self._given_cls is None:
            return registry.create(self.kind, self.name, params)
        parsed = parse_params(self._given_cls.Params, params, f"{self.kind[:-1]} '{self.name}' params")
        obj = self._given_cls(parsed)
        obj.name = self.name
        return obj

    @property
    def cohorts(self) -> dict[str, Any]:
        """Tiny brain-like splits at :attr:`shape`: train 10, val 6, test 8, synthetic 6; labelled with
        :data:`~benchgen.testing.data.CONDITIONS` for a generator that conditions on ``condition``."""
        return self.memo("cohorts", lambda: tiny_cohorts(self.shape, CONDITIONS if self._conditional() else ()))

    def _conditional(self) -> bool:
        plugin = self.state.get("plugin")
        return self.kind == "generators" and plugin is not None and "condition" in plugin.conditions()

    def memo(self, key: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` once per checker; a later call returns the same value (or raises the same exception)."""
        if key not in self._memo:
            try:
                self._memo[key] = (True, fn())
            except Exception as exc:
                self._memo[key] = (False, (exc, exc.__traceback__))
        ok, value = self._memo[key]
        if not ok:
            error, tb = value
            raise error.with_traceback(tb)
        return value

    # ------------------------------------------------------------------ helpers for checks
    def fail(self, message: str) -> ContractFailure:
        """``raise checker.fail(message)`` inside a check: the running check failed."""
        return ContractFailure(self.current or "?", message)

    def require(self, condition: Any, message: str | Callable[[], str]) -> None:
        """Fail the running check with `message` (or ``message()``, computed only then) unless `condition` holds."""
        if not condition:
            raise self.fail(message() if callable(message) else message)

    def call(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the plugin; if it raises, the running check fails with
        "<label> raised <Error>: <message> (<plugin file:line>)", keeping the plugin's traceback."""
        try:
            return fn(*args, **kwargs)
        except (ContractFailure, CheckSkipped, MissingWeightsError):
            raise
        except Exception as exc:
            raise self.fail(f"{label} raised {self.describe(exc)}") from exc

    def describe(self, exc: BaseException) -> str:
        """'Error: message (pkg/file.py:12 in fn)', the location being the innermost frame in the plugin."""
        where = _location(exc, self._plugin_roots())
        return f"{type(exc).__name__}: {exc}" + (f" ({where})" if where else "")

    def _plugin_roots(self) -> list[Path]:
        """Where the plugin's code lives: its top-level package folder (or module file)."""
        cls = self.state.get("cls") or self._given_cls
        top = sys.modules.get((getattr(cls, "__module__", None) or "").split(".")[0])
        file = getattr(top, "__file__", None)
        if not file:
            return []
        path = Path(file).resolve()
        return [path.parent if path.name == "__init__.py" else path]

    # ------------------------------------------------------------------------------ running
    def _check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise ConfigError(f"no {self.kind[:-1]} check named '{name}'; checks: {', '.join(c.name for c in self.checks)}")

    def run(self, name: str) -> CheckResult:
        """Run one check (its requirements first), once; a failed or skipped requirement skips it."""
        if name in self.results:
            return self.results[name]
        check = self._check(name)
        for req in check.requires:
            got = self.run(req)
            if not got.passed:  # point at the first check that did not pass
                why = got.message if got.message.startswith(NOT_RUN) else \
                    f"{NOT_RUN}needs '{req}', which {'failed' if got.failed else 'was skipped'}"
                self.results[name] = CheckResult(name, "skip", why)
                return self.results[name]
        start, outer = time.perf_counter(), self.current
        self.current = name
        try:
            detail = check.fn(self)
            result = CheckResult(name, "pass", detail or "")
        except CheckSkipped as exc:
            result = CheckResult(name, "skip", str(exc))
        except MissingWeightsError as exc:
            result = CheckResult(name, "skip", f"needs weights that are not on this machine: {exc.message}")
        except ContractFailure as exc:
            cause = exc.__cause__
            result = CheckResult(name, "fail", exc.message, exception=exc,
                                 traceback=exc.traceback or (plugin_traceback(cause) if cause else None))
        except Exception as exc:  # the plugin raised: that is this check failing, with its traceback
            result = CheckResult(name, "fail", f"raised {self.describe(exc)}",
                                 traceback=plugin_traceback(exc), exception=exc)
        finally:
            self.current = outer
        result.seconds = time.perf_counter() - start
        self.results[name] = result
        return result

    def iter_run(self, only: Sequence[str] | None = None) -> Iterator[CheckResult]:
        """Run every check (or those named in `only`, with their requirements), yielding each result."""
        wanted = [c.name for c in self.checks] if only is None else [self._check(n).name for n in only]
        for name in wanted:
            yield self.run(name)

    def run_all(self, only: Sequence[str] | None = None) -> list[CheckResult]:
        return list(self.iter_run(only))

    def expect(self, name: str) -> CheckResult:
        """For a test: run one check; raise ContractFailure if it failed (chained to the plugin's exception),
        skip the test if it was skipped (pytest's skip under pytest, else CheckSkipped, a unittest.SkipTest);
        return the result if it passed."""
        result = self.run(name)
        if result.failed:
            cause = result.exception.__cause__ if isinstance(result.exception, ContractFailure) else result.exception
            raise ContractFailure(name, f"{self.kind[:-1]} '{self.name}': {result.message}") from cause
        if result.skipped:
            _skip(f"{self.kind[:-1]} '{self.name}' check '{name}' skipped: {result.message}")
        return result


def _skip(message: str) -> None:
    """Skip the running test: pytest's own skip under pytest (reported at the test, not in here),
    else CheckSkipped (a unittest.SkipTest)."""
    pytest = sys.modules.get("pytest")
    skipped = getattr(getattr(pytest, "skip", None), "Exception", None)
    if skipped is not None:
        try:
            exc = skipped(message, _use_item_location=True)
        except TypeError:  # an older pytest
            exc = skipped(message)
        raise exc
    raise CheckSkipped(message)


def run_checks(kind: str, plugin: str | type[Plugin], params: Mapping[str, Any] | None = None, *,
               shape: Sequence[int] = SHAPE, name: str | None = None, only: Sequence[str] | None = None,
               workdir: str | Path | None = None) -> list[CheckResult]:
    """Every check of `kind` (or those in `only`) on one plugin; never raises for a failing plugin."""
    with Checker(kind, plugin, params, shape=shape, name=name, workdir=workdir) as checker:
        return checker.run_all(only)


def assert_passed(results: Sequence[CheckResult], allow_skips: bool = True) -> None:
    """Raise ContractFailure naming every failed check (and skipped ones unless `allow_skips`)."""
    bad = [r for r in results if r.failed or (r.skipped and not allow_skips)]
    if bad:
        lines = "\n".join(f"  {r.status.upper()} {r.name}: {r.message}" for r in bad)
        first = next((r for r in bad if r.exception is not None), None)
        cause = None
        if first is not None:
            exc = first.exception
            cause = exc.__cause__ if isinstance(exc, ContractFailure) else exc
        raise ContractFailure(", ".join(r.name for r in bad), f"{len(bad)} check(s) did not pass:\n{lines}") from cause
