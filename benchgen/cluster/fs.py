"""Which filesystem a path lives on: SQLite's locking is unreliable on network filesystems, so the central
store must stay on a local disk (workers write shards, which may live on a shared one)."""

from __future__ import annotations

import os
from pathlib import Path

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs",
              "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "afs", "9p", "panfs", "wekafs"}


def filesystem_type(path: Path, mounts: str = "/proc/mounts") -> str | None:
    """The type of the filesystem holding `path` (which need not exist yet), from the mount table."""
    probe = os.path.realpath(path)
    try:
        table = [line.split() for line in Path(mounts).read_text().splitlines()]
    except OSError:  # no /proc (macOS): nothing to say
        return None
    best, kind = "", None
    for row in table:
        if len(row) < 3:
            continue
        point = row[1].replace("\\040", " ")
        if (probe == point or probe.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, row[2]
    return kind


def network_store_warning(results: Path, mounts: str = "/proc/mounts") -> str | None:
    kind = filesystem_type(results, mounts)
    if kind in NETWORK_FS:
        return (f"{results} is on a {kind} filesystem: SQLite's locking is unreliable there; keep --results on a "
                "local disk (workers write their shards to the run folder, which may be shared)")
    return None
