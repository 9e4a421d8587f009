"""Where a path word of a command points, and whether changing it reaches outside the workspace.

A path is known when it is made of plain text, `~`, `$HOME` and `$PWD` (and the shell's
current folder is known); any other expansion makes it unknown, and changing an unknown
path counts as dangerous. The temporary folders count as inside, the workspace itself and
the dotfiles of a home directory that lies inside the workspace do not.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import tempfile
from dataclasses import dataclass, field

from .shell_syntax import PWD_MARK, Word

_GLOB_CHARS = re.compile(r"[*?\[]")
_BRACE_GROUP = re.compile(r"\{([^{}]*,[^{}]*)\}")

# Writing to these is harmless wherever the workspace is.
SINKS = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin",
                   "/dev/tty"})
SCRATCH_DIRS = tuple(sorted(
    {os.path.realpath(d) for d in ("/tmp", "/var/tmp", tempfile.gettempdir())}))


@dataclass(frozen=True)
class Action:
    """How to word a change to a path, by where the path is."""

    home: str
    outside: str
    unknown: str
    itself: str = ""


DELETES = Action("deletes files in the home directory", "deletes files outside the workspace",
                 "deletes a path that cannot be resolved", "deletes the workspace itself")
MOVES = Action("moves files out of the home directory", "moves files from outside the workspace",
               "moves a path that cannot be resolved", "moves the workspace itself")
WRITES = Action("writes to the home directory", "writes outside the workspace",
                "writes to a path that cannot be resolved")
EDITS = Action("edits files in the home directory", "edits files outside the workspace",
               "edits a path that cannot be resolved")
CHMODS = Action("changes permissions in the home directory",
                "changes permissions outside the workspace",
                "changes permissions of a path that cannot be resolved")
CHOWNS = Action("changes ownership in the home directory",
                "changes ownership outside the workspace",
                "changes ownership of a path that cannot be resolved")


@dataclass(frozen=True)
class Place:
    """One absolute path a word names; for a glob, `directory` is the folder it matches in.

    `follow`: the word ends in `/`, so a symlink it names is followed (`rm -rf link/`)."""

    text: str
    directory: str
    glob: bool
    follow: bool = False


@dataclass
class State:
    """Where the shell is as it works through a line, and what it exported (`export X=...`)."""

    cwd: str | None
    oldpwd: str | None = None
    dirstack: list[str | None] = field(default_factory=list)
    env: dict[str, Word] = field(default_factory=dict)
    stashed: int = 0  # `git stash` entries pushed earlier on the line (see git_history)

    def copy(self) -> State:
        return State(self.cwd, self.oldpwd, list(self.dirstack), dict(self.env), self.stashed)

    def restore(self, other: State) -> None:
        self.cwd, self.oldpwd, self.dirstack = other.cwd, other.oldpwd, other.dirstack
        self.env = other.env


def within(path: str, base: str) -> bool:
    """Whether `path` is `base` or lies below it (both absolute, normalised)."""
    return path == base or path.startswith(base.rstrip("/") + "/")


def _expand_braces(text: str, limit: int = 64) -> list[str] | None:
    done: list[str] = []
    pending = [text]
    while pending:
        current = pending.pop()
        match = _BRACE_GROUP.search(current)
        if match is None:
            done.append(current)
        else:
            head, tail = current[:match.start()], current[match.end():]
            pending.extend(head + option + tail for option in match.group(1).split(","))
        if len(done) + len(pending) > limit:
            return None
    return done


def _absolute(text: str, cwd: str | None) -> str | None:
    """`text` as a normalised absolute path, or None when it needs an unknown folder."""
    if PWD_MARK in text:
        if cwd is None:
            return None
        text = text.replace(PWD_MARK, cwd)
    if not text:
        return ""
    if not text.startswith("/"):
        if cwd is None:
            return None
        text = posixpath.join(cwd, text)
    return "/" + posixpath.normpath(text).lstrip("/")


class Paths:
    """Judges changes to paths against one workspace (`root`) and home directory."""

    def __init__(self, root: str, home: str) -> None:
        self.root = root
        self.home = home
        self.scratch = [d for d in SCRATCH_DIRS if not within(home, d)]
        # Symlinks the line makes before using them (`ln -s ~ h && rm -rf h/`): link -> target,
        # None when the target cannot be known.
        self.links: dict[str, str | None] = {}

    def realpath(self, path: str) -> str | None:
        """`path` with every symlink resolved, those the line makes included; None: unknown."""
        for link, target in self.links.items():
            if within(path, link):
                if target is None:
                    return None
                path = target + path[len(link):]
        return os.path.realpath(path)

    def _real_parent(self, path: str) -> str | None:
        """The path with its folders resolved but not its last part (rm removes a link itself)."""
        head, tail = posixpath.split(path)
        if not tail:
            return self.realpath(path)
        real = self.realpath(head)
        return None if real is None else posixpath.join(real, tail)

    def places(self, word: Word, cwd: str | None) -> list[Place] | None:
        """The absolute places a path word names, or None when that cannot be known."""
        if word.unknown:
            return None
        texts = _expand_braces(word.text) if word.brace else [word.text]
        if texts is None:
            return None
        places = []
        for raw in texts:
            text = _absolute(raw, cwd)
            if text is None:
                return None
            if not text:
                continue
            parts = text.split("/")
            glob_at = next((k for k, part in enumerate(parts) if _GLOB_CHARS.search(part)), None)
            if word.glob and glob_at is not None:
                places.append(Place(text, "/".join(parts[:glob_at]) or "/", True))
            else:
                follow = raw.endswith(("/", "/.")) and text != "/"
                places.append(Place(text, text, False, follow))
        return places

    def show(self, text: str) -> str:
        """A path as the reason shows it: `~/...` below the home directory."""
        if self.home != "/" and within(text, self.home):
            return "~" + text[len(self.home):]
        return text

    def delete(self, word: Word, cwd: str | None, action: Action = DELETES) -> str | None:
        """Why removing (or moving away) what the word names is dangerous, or None."""
        places = self.places(word, cwd)
        if places is None:
            return f"{action.unknown} ({word.raw})"
        for place in places:
            real = self.realpath(place.directory) if place.glob or place.follow else (
                self._real_parent(place.text))
            if real is None:
                return f"{action.unknown} ({word.raw})"
            if self._git_data(real) or (place.glob and self._glob_reaches_git(place, real)):
                verb = "moves" if action is MOVES else "deletes"
                return f"{verb} git's own data in .git ({self.show(place.text)})"
            if place.glob:
                safe = within(real, self.root) or (
                    self._in_scratch(real, strict=True) and not within(self.root, real))
            else:
                if real == self.root:
                    return f"{action.itself} ({self.show(place.text)})"
                inside = within(real, self.root) or self._in_scratch(real, strict=True)
                safe = inside and not within(self.root, real)
            if not safe or self._guarded_home(real):
                return self._outside(action, real, place.text)
        return None

    def write(self, word: Word, cwd: str | None, action: Action = WRITES) -> str | None:
        """Why writing to what the word names is dangerous, or None."""
        if word.procsub:
            return None
        places = self.places(word, cwd)
        if places is None:
            return f"{action.unknown} ({word.raw})"
        for place in places:
            if place.text in SINKS or place.text.startswith(("/dev/fd/", "/proc/self/fd/")):
                continue
            if ".git" in (part.casefold() for part in place.text.split("/")):
                # a .git file or folder, commondir, config: git outside the sandbox follows them
                return f"writes inside .git, or a .git of its own ({self.show(place.text)})"
            real = self.realpath(place.directory)
            if real is None:
                return f"{action.unknown} ({word.raw})"
            inside = within(real, self.root) or self._in_scratch(real)
            if inside and not self._guarded_home(real):
                continue
            if within(place.text, "/dev") or within(real, "/dev"):
                return f"writes to a device ({place.text})"
            return self._outside(action, real, place.text)
        return None

    def _git_data(self, real: str) -> bool:
        """A path in a `.git` of the workspace: refs, objects, the index, the repository itself."""
        rest = real[len(self.root):] if within(real, self.root) else ""
        return ".git" in (part.casefold() for part in rest.split("/"))

    def _glob_reaches_git(self, place: Place, real: str) -> bool:
        """A glob in the workspace such as `.*` or `.g*`, which would match a `.git` there."""
        pattern = place.text[len(place.directory):].lstrip("/").split("/")[0]
        return (within(real, self.root) and pattern.startswith((".", "["))
                and fnmatch.fnmatchcase(".git", pattern))

    def chdir(self, cwd: str | None, word: Word) -> str | None:
        """The folder `cd WORD` goes to from `cwd`, or None when it cannot be known."""
        places = self.places(word, cwd)
        if not places or len(places) != 1 or places[0].glob:
            return None
        return places[0].text

    def _in_scratch(self, real: str, strict: bool = False) -> bool:
        return any(within(real, d) and not (strict and real == d) for d in self.scratch)

    def _guarded_home(self, real: str) -> bool:
        """A dotfile of a home directory that lies inside the workspace."""
        if not (within(self.home, self.root) and within(real, self.home)) or real == self.home:
            return False
        return posixpath.relpath(real, self.home).startswith(".")

    def _outside(self, action: Action, real: str, text: str) -> str:
        in_home = within(real, self.home) and not within(self.root, real)
        where = action.home if in_home else action.outside
        return f"{where} ({self.show(text)})"
