"""The local workspace: one directory the agent may read and write, and its files as git sees them."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pathspec

from .host_git import host_repo
from .host_git import write_refusal as git_write_refusal
from .protocols import ToolError


def git_protected_paths(root: Path) -> list[Path]:
    """Git hooks folders and config files in the workspace that commands must not change."""
    return host_repo(root).protected_paths()


NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4096
_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_path_text(path: str) -> None:
    """A ToolError for a path no file can have (a NUL byte, a name over 255 bytes), before
    the system refuses it with an exception that would stop the run."""
    if "\0" in path:
        raise ToolError("the path holds a NUL byte, which no file name can contain; give a "
                        "plain path.")
    try:
        encoded = os.fsencode(path)
    except UnicodeError:
        raise ToolError("the path is not valid text (it holds a lone surrogate); give a plain "
                        "path.") from None
    longest = max((len(part) for part in encoded.split(b"/")), default=0)
    if longest > NAME_MAX:
        raise ToolError(f"a name in the path is {longest} bytes long; file and folder names "
                        f"are at most {NAME_MAX} bytes.")
    if len(encoded) > PATH_MAX:
        raise ToolError(f"the path is {len(encoded)} bytes long; paths are at most {PATH_MAX}.")


def special_file(path: Path) -> str | None:
    """"a FIFO (named pipe)", "a socket", "a character device"... for such a file, else None."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return next((kind for test, kind in _SPECIAL if test(mode)), None)


class LocalWorkspace:
    """A directory on disk. Paths resolve (symlinks included) inside `root` or are refused."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"workspace is not a directory: {root}")

    def resolve(self, path: str | Path, *, write: bool = False) -> Path:
        check_path_text(str(path))
        raw = Path(os.path.expanduser(str(path))) if str(path).startswith("~") else Path(path)
        candidate = raw if raw.is_absolute() else self.root / raw
        # resolve() follows every symlink that exists, so a link pointing out is caught too.
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name the system refuses
            why = getattr(exc, "strerror", None) or exc
            raise ToolError(f"{path} cannot be used: {why}") from None
        if not resolved.is_relative_to(self.root):
            raise ToolError(
                f"{path} is outside the workspace ({self.root}); only files inside it can be used",
                "outside_workspace",
            )
        if write and (why := git_write_refusal(self.root, resolved)):
            raise ToolError(why)
        if write and (kind := special_file(resolved)):
            raise ToolError(f"{self.relative(resolved)} is {kind}, not a regular file; file "
                            "tools write only regular files (writing to it could hang or reach "
                            "a device).")
        return resolved

    def relative(self, path: Path) -> str:
        try:
            rel = Path(path).resolve().relative_to(self.root)
        except ValueError:
            return str(path)
        return rel.as_posix() or "."

    def files(self, start: Path | None = None, cancel: threading.Event | None = None) -> list[Path]:
        """The files under `start` (default: the root) that git would not ignore, sorted."""
        return walk_files(self.root, start or self.root, cancel)


# (directory relative to the root, "" for the root itself; its rules)
Rules = tuple[tuple[str, pathspec.GitIgnoreSpec], ...]


def _load_rules(directory: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        text = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def _is_ignored(rules: Rules, rel: str, is_dir: bool) -> bool:
    """Git's verdict for `rel`: the last matching rule wins, deeper .gitignore files last."""
    ignored = False
    for base, spec in rules:
        if base and not rel.startswith(base + "/"):
            continue
        sub = rel[len(base) + 1 :] if base else rel
        result = spec.check_file(sub + "/" if is_dir else sub)
        if result.include is not None:
            ignored = result.include
    return ignored


def _rules_down_to(root: Path, start: Path) -> Rules:
    """The rules in force at `start`: .git/info/exclude, then each .gitignore from the root down."""
    rules: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    try:
        exclude = (root / ".git" / "info" / "exclude").read_text(encoding="utf-8", errors="replace")
        rules.append(("", pathspec.GitIgnoreSpec.from_lines(exclude.splitlines())))
    except OSError:
        pass
    directory, rel = root, ""
    for part in ("", *start.relative_to(root).parts):
        if part:
            directory, rel = directory / part, f"{rel}/{part}" if rel else part
        if (spec := _load_rules(directory)) is not None:
            rules.append((rel, spec))
    return tuple(rules)


def walk_files(root: Path, start: Path, cancel: threading.Event | None = None) -> list[Path]:
    """Every file under `start` that git would not ignore, sorted; `.git/` is always skipped.

    `start` itself is searched even when ignored (it was asked for by name). Symlinked
    directories are not followed; symlinked files are kept only when they point inside `root`.
    """
    if start.is_file():
        return [start]
    found = list(_walk(root, start, _rules_down_to(root, start), cancel))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _walk(
    root: Path, directory: Path, rules: Rules, cancel: threading.Event | None
) -> Iterator[Path]:
    if cancel is not None and cancel.is_set():
        return
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return  # unreadable directory: skip it like git does
    base = directory.relative_to(root).as_posix()
    base = "" if base == "." else base
    for entry in entries:
        rel = f"{base}/{entry.name}" if base else entry.name
        if entry.name == ".git":
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        if _is_ignored(rules, rel, is_dir):
            continue
        if is_dir:
            sub_rules = rules
            if (spec := _load_rules(Path(entry.path))) is not None:
                sub_rules = (*rules, (rel, spec))
            yield from _walk(root, Path(entry.path), sub_rules, cancel)
        elif _inside_file(root, entry):
            yield Path(entry.path)


def _inside_file(root: Path, entry: os.DirEntry) -> bool:
    if not entry.is_symlink():
        return entry.is_file(follow_symlinks=False)
    try:
        target = Path(entry.path).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return target.is_file() and target.is_relative_to(root)
