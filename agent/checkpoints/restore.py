"""Putting a turn's files back in the workspace: deletions first, then writes.

Nothing is written outside the workspace, even where a folder was replaced by a link to
elsewhere after the turn; a path that cannot be put back is skipped, not forced.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from gemma_code.tools.textfile import atomic_write

from .shadow import SYMLINK, Change

log = logging.getLogger(__name__)


def restore_files(
    root: Path, changes: list[Change], blobs: Callable[[list[str]], dict[str, bytes]]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Put every changed path back as it was before; (restored, deleted, skipped).

    `blobs` reads the old contents from the shadow repository.
    """
    restored, deleted, skipped = [], [], []
    for change in changes:
        if change.old_mode == 0:
            (deleted if _delete(root, change.path) else skipped).append(change.path)
    writes = [c for c in changes if c.old_mode != 0]
    contents = blobs([c.old_sha for c in writes])
    for change in writes:
        try:
            _write(root, change.path, contents[change.old_sha], change.old_mode)
        except OSError as err:
            log.warning("undo: could not restore %s: %s", change.path, err)
            skipped.append(change.path)
        else:
            restored.append(change.path)
    return tuple(restored), tuple(deleted), tuple(skipped)


def _delete(root: Path, rel: str) -> bool:
    path = root / rel
    if not os.path.lexists(path):
        return True
    if path.is_dir() and not path.is_symlink():
        return False  # a directory now stands where the turn created a file; leave it
    if not _inside(root, path.parent):
        return False
    path.unlink()
    parent = path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()  # only succeeds while empty
        except OSError:
            break
        parent = parent.parent
    return True


def _write(root: Path, rel: str, data: bytes, mode: int) -> None:
    path = root / rel
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    # A folder replaced by a link to elsewhere must not make us write outside the workspace.
    if not _inside(root, existing):
        raise OSError(f"{existing} now leads outside the workspace")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"{rel} is a directory now")
    if mode == SYMLINK:
        _replace_with_link(path, os.fsdecode(data))
        return
    if path.is_symlink():
        path.unlink()  # atomic_write would keep the link's target's mode
    atomic_write(path, data)
    current = path.stat().st_mode & 0o7777
    wanted = current | (current & 0o444) >> 2 if mode & 0o111 else current & ~0o111
    if wanted != current:
        os.chmod(path, wanted)


def _replace_with_link(path: Path, target: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _inside(root: Path, directory: Path) -> bool:
    return directory.resolve().is_relative_to(root)
