"""Reading the small JSON files that describe a folder (a checkpoint's ``generator.json``, a cluster run's
``run.json`` and ``jobs.json``): one reader, so a missing, broken or incomplete file is always one
:class:`ConfigError` line that names the file, says what is wrong with it and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from benchgen.errors import BenchgenError, ConfigError


class DescriptionMissing(ConfigError):
    """The folder has no description file at all (it is not the kind of folder the caller expected)."""


def read_description(path: Path, required: Sequence[str] = (), *, what: str, hint: str,
                     folder_kind: str = "", missing_hint: str = "",
                     error: type[BenchgenError] = ConfigError) -> dict[str, Any]:
    """The JSON object in `path`, holding every key in `required`.

    A missing file is :class:`DescriptionMissing` ("FOLDER is not a `folder_kind` (no NAME)", with
    `missing_hint`); an unreadable file, one that is not JSON, not a JSON object or lacks a required key is an
    `error` (ConfigError unless the caller's contract says otherwise, e.g. DataError for a damaged generator
    state) "PATH: not a valid `what` (why)" with `hint`."""
    path = Path(path)
    if not path.is_file():
        kind = folder_kind or f"folder with a {what}"
        raise DescriptionMissing(f"{path.parent} is not a {kind} (no {path.name})", missing_hint or hint)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise error(f"{path}: not a valid {what} ({type(exc).__name__}: {exc})", hint) from None
    if not isinstance(doc, dict):
        why = f"; missing {', '.join(required)}" if required else ""
        raise error(f"{path}: not a valid {what} (not a JSON object{why})", hint)
    missing = [k for k in required if k not in doc]
    if missing:
        raise error(f"{path}: not a valid {what} (missing {', '.join(missing)})", hint)
    return doc
