"""Read-only git commands on the user's repository, run again only when what they read changed.

Every snapshot lists the user's index and refs; between two snapshots they rarely change. Git
rewrites the index, loose refs and `packed-refs` through a lock file and a rename, so a change
brings a new inode, size or change time (the change time no program can set back): while the
stat marks of the files a command reads are the same, its last output is still its output.
Where that does not hold (reftable, a ref that is a symbolic link) git is asked every time.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from ..git_layout import Layout
from .user_repo import UserRepo

Mark = tuple  # stat marks of the files a command reads; None: cannot tell, ask git


class CachedGit:
    """One read-only git command whose output is kept while the files it reads stay as they were."""

    def __init__(self, args: tuple[str, ...], reads: Callable[[Layout], Mark | None]) -> None:
        self.args = args
        self.reads = reads
        self._cached: tuple[Mark, bytes] | None = None

    def output(self, user: UserRepo, check: bool = False) -> bytes | None:
        """The command's output; None when it failed (CheckpointError instead with `check`)."""
        # Marked first: a change while git runs shows as a new mark next time.
        mark = self.reads(user.host.layout)
        if mark is not None and self._cached is not None and self._cached[0] == mark:
            return self._cached[1]
        rc, out, _ = user.git(*self.args, check=check)
        self._cached = (mark, out) if rc == 0 and mark is not None else None
        return out if rc == 0 else None


class GitReads:
    """The index listing and the refs, as `git_state` reads them for every snapshot."""

    def __init__(self) -> None:
        self.index = CachedGit(("ls-files", "--stage", "-z"), _index_mark)
        self.refs = CachedGit(
            ("for-each-ref", "--format=%(objectname)%00%(refname)%00%(symref)"), _refs_mark)


def _index_mark(layout: Layout) -> Mark | None:
    """The index's stat mark and its last bytes: the hash of its content, which git writes."""
    path = layout.git_dir / "index"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read
            return None
        with open(path, "rb") as index:
            index.seek(max(info.st_size - 32, 0))
            return (*_mark_of(info), index.read(32))
    except OSError:
        return None


def _refs_mark(layout: Layout) -> Mark | None:
    """Every file and folder below `refs/`, and `packed-refs`, of the git dir and common dir."""
    if (layout.common_dir / "reftable").exists():
        return None
    marks = []
    for folder in dict.fromkeys((layout.common_dir, layout.git_dir)):
        tree = _tree_marks(folder / "refs")
        if tree is None:
            return None
        marks += [*tree, (str(folder / "packed-refs"), _stat_mark(folder / "packed-refs"))]
    return tuple(marks)


def _tree_marks(top: Path) -> list[tuple] | None:
    """(path, stat mark) of everything below `top`; None when a link is among them."""
    marks, folders = [], [top]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                return None  # git reads through it: its target's changes would not show
            marks.append((entry.path, _mark_of(entry.stat(follow_symlinks=False)),
                          _small_file(entry)))
            if entry.is_dir(follow_symlinks=False):
                folders.append(Path(entry.path))
    return sorted(marks)


def _small_file(entry: os.DirEntry) -> bytes | None:
    """A loose ref's content (a few bytes); None for a folder or anything else."""
    if not entry.is_file(follow_symlinks=False) or entry.stat().st_size > 4096:
        return None
    try:
        with open(entry.path, "rb") as file:
            return file.read(4096)
    except OSError:
        return None


def _stat_mark(path: Path) -> Mark | None:
    try:
        return _mark_of(path.stat())
    except OSError:
        return None


def _mark_of(info: os.stat_result) -> Mark:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns
