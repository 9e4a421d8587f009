"""Finding a work tree's repository without running git, and telling when it changed.

git follows a `.git` file, a `commondir` and its lock files' symbolic links; each of these,
written by the agent, can point git's writes or its config somewhere else.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

_REWRITTEN = ("index", "HEAD", "packed-refs", "ORIG_HEAD", "COMMIT_EDITMSG", "config", "logs/HEAD")
_AFTER = "; gemma-code runs no git there until it is restarted (check what changed first)"

@dataclass(frozen=True)
class Layout:
    """Where a work tree's repository is, and what its `.git` and `commondir` looked like."""

    top: Path
    git_dir: Path
    common_dir: Path
    dot_git: tuple  # ("dir", device, inode) or ("file", its text)
    commondir: str | None  # the text of git_dir/commondir


def read_text(path: Path, limit: int = 1 << 20) -> str | None:
    """A small regular file's text (its first `limit` bytes), or None when it cannot be read.

    Anything else is None without being read: a FIFO planted as `.git` would block forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    with os.fdopen(fd, "rb") as file:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return file.read(limit).decode("utf-8", errors="surrogateescape")
        except OSError:
            return None


def is_git_dir(path: Path) -> bool:
    """Whether git would take `path` for a repository's git dir."""
    if not (path / "HEAD").is_file():
        return False
    return (path / "commondir").is_file() or ((path / "objects").is_dir() and (path / "refs").is_dir())


def pointed_git_dir(dot_git: Path) -> Path | None:
    """The git dir a `.git` file names (`gitdir: <path>`, from its folder), if it is one."""
    text = read_text(dot_git) or ""
    if not text.startswith("gitdir:"):
        return None
    git_dir = dot_git.parent / text.removeprefix("gitdir:").strip()
    return git_dir if is_git_dir(git_dir) else None


def find_layout(start: Path) -> Layout | None:
    """The repository git would find from `start` (GIT_CEILING_DIRECTORIES kept), or None."""
    ceilings = {Path(p) for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    for folder in (start, *start.parents):
        if folder in ceilings:
            return None
        dot_git = folder / ".git"
        try:
            st = dot_git.stat()
        except OSError:
            continue
        if dot_git.is_dir():
            git_dir, mark = dot_git, ("dir", st.st_dev, st.st_ino)
        else:
            text = read_text(dot_git) or ""
            if not text.startswith("gitdir:"):
                continue
            git_dir, mark = folder / text.removeprefix("gitdir:").strip(), ("file", text)
        if not is_git_dir(git_dir):
            continue
        git_dir = git_dir.resolve()
        commondir = read_text(git_dir / "commondir")
        common = (git_dir / commondir.strip()).resolve() if commondir else git_dir
        return Layout(folder, git_dir, common, mark, commondir)
    return None


def changed_since(pinned: Layout | None, now: Layout | None) -> str | None:
    """Why the repository found now is not the one pinned (or not safe to run git in), or None."""
    return _moved(pinned, now) or _linked_files(now)


def _moved(pinned: Layout | None, now: Layout | None) -> str | None:
    if pinned == now:
        return None
    if pinned is None:
        return f"a git repository appeared at {now.top} during this session{_AFTER}"
    if now is None:
        return f"the git repository at {pinned.top} is gone{_AFTER}"
    if now.top != pinned.top:
        return f"another git repository appeared at {now.top} during this session{_AFTER}"
    if now.dot_git != pinned.dot_git:
        what = "a file pointing elsewhere" if now.dot_git[0] == "file" else "a new folder"
        return f"{now.top / '.git'} was replaced by {what} during this session{_AFTER}"
    return f"{now.git_dir / 'commondir'} appeared or changed during this session{_AFTER}"


def _linked_files(layout: Layout | None) -> str | None:
    """Why git must not run: a file it rewrites is a symbolic link (its lock follows the link)."""
    if layout is None:
        return None
    for folder in {layout.git_dir, layout.common_dir}:
        for name in _REWRITTEN:
            if (folder / name).is_symlink():
                return f"{folder / name} is a symbolic link, which git would write through{_AFTER}"
    return None
