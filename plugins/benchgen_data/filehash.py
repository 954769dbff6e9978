"""Content keys of input files: full sha256, memoised by (path, size, mtime) in the cache so listing a
large dataset a second time costs one stat per file instead of reading every byte again."""

from __future__ import annotations

import json
from pathlib import Path

from benchgen import paths
from benchgen.atomic import write_text
from benchgen.hashing import file_sha256
from benchgen.safety import MISSING_FILE, file_problem


class HashMemo:
    """sha256 of files, remembered in ``<cache>/file-hashes/sha256.json`` (best effort)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.path = paths.cache_dir("file-hashes") / "sha256.json"
        self.table: dict[str, list] = {}
        self.dirty = False
        if enabled and self.path.is_file():
            try:
                self.table = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self.table = {}

    def key(self, path: Path, mode: str = "sha256") -> str:
        """The item key of `path`: its sha256 ("stat" mode: size+mtime), or missing:/unreadable: markers."""
        problem = file_problem(path)  # the one listing policy of input files (links, FIFOs, devices)
        if problem == MISSING_FILE:
            return f"missing:{path}"
        if problem is not None:
            return f"unreadable:{path}:{problem}"
        try:
            st = path.stat()
        except OSError as exc:
            return f"unreadable:{path}:{exc.strerror}"
        if mode == "stat":
            return f"stat:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        name = str(path.resolve())
        hit = self.table.get(name)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return str(hit[2])
        try:
            digest = file_sha256(path)
        except OSError as exc:
            return f"unreadable:{path}:{exc.strerror}"
        self.table[name] = [st.st_size, st.st_mtime_ns, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        if not (self.enabled and self.dirty):
            return
        try:
            write_text(self.path, json.dumps(self.table))
        except OSError:  # a read-only cache only costs speed
            pass
