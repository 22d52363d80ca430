"""Writing files so that a crash at any moment leaves either the old file or the new one, never half.

    write the content to a temporary file in the same folder -> flush -> fsync
    os.replace(temporary, target)   (atomic on POSIX within one filesystem)
    fsync the folder                (the rename itself survives a power cut)

A process killed between the first and the second step leaves a ``*.tmp-*`` file behind;
:func:`remove_temporaries` deletes those at the next start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable

TEMPORARY_MARK = ".tmp-"


def fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: str | Path, write: Callable[[BinaryIO], None], previous: str | Path | None = None) -> Path:
    """Create or replace ``path`` with what ``write(file)`` writes into a binary file object; with
    ``previous``, the file being replaced is first moved there (a crash between the two renames
    leaves the old content as ``previous`` and no ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f"{path.name}{TEMPORARY_MARK}{secrets.token_hex(4)}"
    # os.open with 0o666 lets the umask decide the permissions, as for any new file (mkstemp: 0o600)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files an interrupted :func:`write_atomically` left in ``folder``."""
    folder = Path(folder)
    left = sorted(folder.glob(f"*{TEMPORARY_MARK}*")) if folder.is_dir() else []
    for path in left:
        path.unlink(missing_ok=True)
    return left
