"""Leftover temporary files: what a writer killed mid-write (SIGKILL, power loss) leaves behind.

Every atomic writer in this project writes under a hidden ``.tmp-`` name in the target directory and renames
the finished file into place, so a leftover is never visible to a reader (no ``*.parquet`` glob matches a
dot name) but it does take disk space for ever. ``remove_stale`` deletes those old enough that no live
writer can still own them.
"""

from __future__ import annotations

import os
import time

TMP_PREFIX = ".tmp-"
# A live writer holds its temporary for well under a minute; anything older belongs to a dead one.
STALE_AFTER_S = 900.0


def remove_stale(
    directory: str | os.PathLike, older_than_s: float = STALE_AFTER_S, now: float | None = None
) -> int:
    """Delete the ``.tmp-*`` files directly in ``directory`` last modified over ``older_than_s`` ago.

    Never follows or deletes symlinks and never descends into subdirectories (callers pass the partition
    directory they are about to write, so the cost does not grow with the lake). Returns how many it deleted.
    """
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime >= older_than_s:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            pass  # its writer renamed or removed it meanwhile
    return removed
