"""An exclusive lock between gemma-code processes that work on one shadow repository."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .records import CheckpointError


class FileLock:
    """An exclusive OS lock on a file, which the kernel drops when its holders die.

    Git children get the locked descriptor too, so a git orphaned by a killed process keeps
    the lock until it exits: whoever holds the lock knows no git of ours is running.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, timeout: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise CheckpointError(
                    f"another gemma-code process is taking a checkpoint of this workspace "
                    f"(lock {self.path} held for over {timeout:g}s); try again when it is done"
                )
            time.sleep(0.05)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd = None


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: byte-range lock; children do not inherit it there.
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
