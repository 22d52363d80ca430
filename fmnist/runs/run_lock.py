"""One process at a time in a run folder: an exclusive ``flock`` on ``RUN_DIR/.lock``.

The kernel drops the lock when its holder exits, however it exits (``kill -9`` included), so a
dead holder never keeps a folder locked; the file only names the last holder for the message.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

LOCK_FILE = ".lock"


class RunFolderBusy(RuntimeError):
    """Another living process holds the run folder."""


def is_in_use(run_dir: str | Path) -> bool:
    """Whether a living process holds ``run_dir`` now (a folder never locked is not in use)."""
    path = Path(run_dir) / LOCK_FILE
    if not path.is_file():
        return False
    with path.open() as file:  # flock needs no write access: a read-only results folder is fine
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(file, fcntl.LOCK_UN)
        return False


class RunFolderLock:
    """``with RunFolderLock(run_dir):`` holds the folder or raises :class:`RunFolderBusy` at once."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.file = None

    def __enter__(self) -> "RunFolderLock":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "another process"
            file.close()
            raise RunFolderBusy(
                f"{self.run_dir} is in use by {holder}. Wait for that run to end, stop it, "
                "or give this one another folder (hydra.run.dir=... / hydra.sweep.dir=...)"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"process {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        file.flush()
        self.file = file
        return self

    def __exit__(self, *exc_info) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
