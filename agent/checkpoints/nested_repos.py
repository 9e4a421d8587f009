"""Git repositories below the workspace's top that a turn made or changed, said once.

A `.git` folder or file that a command made inside the workspace (a script, `make`, a decoded
payload: nothing the rules can read first) is a repository the person's own git uses as soon
as they work in that folder, and a shell prompt that shows the branch runs git on `cd`. Its
config (`core.fsmonitor`, `core.pager`, aliases, filters) and hooks then run programs on the
host, outside the sandbox. gemma-code's own git never runs there (`host_git` pins the
repository found at the start), so the person is told at the end of the turn instead.

Git cannot list these itself: it passes over a `.git` file that points nowhere and cannot add a
repository with no commit yet. So one walk without git finds every `.git` entry (not looking
into `HEAVY_FOLDERS` or links), at the turn's first change and at its end; each entry is marked
by what can run code from it (the content of its config files and hooks, its `.git` file's
text), not by objects, refs or the index, which ordinary commits change. A submodule entry
(gitlink) newly staged in the user's index is said too: `git submodule update` would fill it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..git_layout import is_git_dir, pointed_git_dir, read_text
from ..host_git import HOOK_NAMES

# Folders not looked into: installed packages, virtual environments and caches, which can
# hold tens of thousands of folders and which nobody runs git in.
HEAVY_FOLDERS = frozenset({
    "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".gradle", ".cargo", "site-packages",
})
_LARGEST_READ = 1 << 20  # bigger files are marked by size and times
_CODE_FILES = ("config", "config.worktree", "commondir")
_GITLINK = b"160000 "
_GITLINK_MARK = ("gitlink",)

Marks = dict[str, tuple]  # workspace path of a `.git` entry -> what can run code from it


def git_entries(root: Path) -> Marks:
    """Every `.git` folder, file or link below `root` (its own left out), with its mark."""
    found: Marks = {}
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # unreadable: git could not use a repository there either
        for entry in entries:
            if entry.name.casefold() == ".git":  # case-insensitive file systems find .GIT too
                if folder != root:
                    found[Path(entry.path).relative_to(root).as_posix()] = _mark(Path(entry.path))
            elif entry.name not in HEAVY_FOLDERS and _is_folder(entry):
                folders.append(Path(entry.path))
    return found


def _is_folder(entry: os.DirEntry) -> bool:
    """A folder, not a link to one."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _mark(dot_git: Path) -> tuple:
    """What in a `.git` entry can make git run programs, by content."""
    if dot_git.is_symlink():
        try:
            return ("link", os.readlink(dot_git))
        except OSError:
            return ("gone",)
    if dot_git.is_dir():
        return ("dir", *_git_dir_mark(dot_git))
    pointed = pointed_git_dir(dot_git)
    return ("file", _digest(dot_git), *(_git_dir_mark(pointed) if pointed else ()))


def _git_dir_mark(git_dir: Path) -> tuple:
    """A git dir's config files and hooks (and its common dir's), by content."""
    marked = [_folder_mark(git_dir)]
    common = read_text(git_dir / "commondir")
    if common and is_git_dir(git_dir / common.strip()):
        marked.append(_folder_mark(git_dir / common.strip()))
    return tuple(marked)


def _folder_mark(git_dir: Path) -> tuple:
    files = tuple(_digest(git_dir / name) for name in _CODE_FILES)
    try:
        hooks = sorted(e.name for e in os.scandir(git_dir / "hooks") if e.name in HOOK_NAMES)
    except OSError:
        hooks = []
    return files, tuple((name, _digest(git_dir / "hooks" / name),
                         os.access(git_dir / "hooks" / name, os.X_OK)) for name in hooks)


def _digest(path: Path) -> str:
    """A regular file's content hash; for anything else (a FIFO would block) its kind."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "-"
    except OSError as exc:
        return f"unreadable: {exc.errno}"
    if not stat.S_ISREG(info.st_mode):
        return f"mode {info.st_mode:o}"
    if info.st_size > _LARGEST_READ:
        return f"{info.st_size} bytes, changed {info.st_mtime_ns} {info.st_ctime_ns}"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.errno}"


def staged_gitlinks(listing: bytes | None, prefix: str) -> frozenset[str] | None:
    """The submodule entries of an `ls-files --stage -z` listing below the workspace `prefix`
    (its path in the repository; "" at the top), as workspace paths; None for no listing."""
    if listing is None:
        return None
    if _GITLINK not in listing:  # the usual case, found without splitting a long listing
        return frozenset()
    found = set()
    below = "" if prefix in ("", ".") else prefix + "/"
    for record in listing.split(b"\0"):
        meta, tab, path = record.partition(b"\t")
        name = os.fsdecode(path)
        if tab and meta.startswith(_GITLINK) and name.startswith(below):
            found.add(name[len(below):])
    return frozenset(found)


@dataclass(frozen=True)
class NestedGit:
    """What a turn did to git repositories below the workspace's top (workspace paths)."""

    appeared: tuple[str, ...] = ()  # `.git` folders, files or links that were not there
    changed: tuple[str, ...] = ()  # ones whose config, hooks or pointer changed
    gitlinks: tuple[str, ...] = ()  # submodule entries newly staged in the user's index

    def __bool__(self) -> bool:
        return bool(self.appeared or self.changed or self.gitlinks)

    def as_json(self) -> dict:
        return {"appeared": list(self.appeared), "changed": list(self.changed),
                "gitlinks": list(self.gitlinks)}

    def warning(self) -> str | None:
        """What the person should know and do, in one paragraph; None when nothing happened."""
        said = []
        one = len(self.appeared) + len(self.changed) == 1
        if self.appeared:
            what = "A git repository" if len(self.appeared) == 1 else "Git repositories"
            said.append(f"{what} appeared inside the workspace during this turn: "
                        f"{_listed(self.appeared)}.")
        if self.changed:
            said.append(f"The git config, hooks or .git pointer of {_listed(self.changed)} "
                        "changed during this turn.")
        if self.appeared or self.changed:
            its, there = ("Its", "that folder") if one else ("Their", "those folders")
            advice = (f"{its} config and hooks can run programs on this machine, outside the "
                      f"sandbox, as soon as you use git in {there} (a shell prompt that shows "
                      f"the branch does so on `cd`). Before that, check {its.lower()} config "
                      "(core.fsmonitor, core.pager, core.hooksPath, aliases, filters) and hooks")
            if self.appeared:
                them = "it" if len(self.appeared) == 1 else "them"
                advice += (f", or, if you did not ask for {them}, delete {them} (rm -rf "
                           + " ".join(shlex.quote(p) for p in self.appeared) + ")")
            said.append(advice + ".")
        if self.gitlinks:
            said.append(f"Submodule entries (gitlinks) were staged in the repository's index: "
                        f"{_listed(self.gitlinks)}. Check .gitmodules before any "
                        "`git submodule update`, or unstage them with `git rm --cached PATH`.")
        text = " ".join(said)
        return text[:1].lower() + text[1:] if text else None


def _listed(paths: Iterable[str]) -> str:
    paths = sorted(paths)
    shown = ", ".join(paths[:8])
    return shown + (f" and {len(paths) - 8} more" if len(paths) > 8 else "")


class NestedRepoWatch:
    """Compares a workspace's nested repositories and gitlinks at a turn's start and end; what
    it reported once (the same path with the same mark) is not reported again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._start: tuple[Marks, frozenset[str] | None] | None = None
        self._said: set[tuple[str, tuple]] = set()

    def start(self, gitlinks: frozenset[str] | None) -> None:
        """The turn's first change is about to happen: remember what is there now (gitlinks
        None: the index could not be read)."""
        self._start = (git_entries(self.root), gitlinks)

    def finish(self, gitlinks: frozenset[str] | None) -> NestedGit:
        """What appeared or changed since `start` (gitlinks as for `start`)."""
        if self._start is None:
            return NestedGit()
        (before, links_before), self._start = self._start, None
        now = git_entries(self.root)
        entries = {(p, m) for p, m in now.items() if before.get(p) != m} - self._said
        known = gitlinks is not None and links_before is not None
        added = gitlinks - links_before if known else frozenset()
        links = {(p, _GITLINK_MARK) for p in added} - self._said
        self._said |= entries | links
        return NestedGit(
            appeared=tuple(sorted(p for p, _ in entries if p not in before)),
            changed=tuple(sorted(p for p, _ in entries if p in before)),
            gitlinks=tuple(sorted(p for p, _ in links)),
        )
