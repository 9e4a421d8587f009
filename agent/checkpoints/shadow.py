"""The shadow repository: a git repository outside the workspace that holds its snapshots.

It is driven with `--git-dir`/`--work-tree` and its own index. Every snapshot is a commit on
one ref (`REF`); what it is (before, after, undo-safety, undo), its turn and its label are
trailers of the commit message, so the history alone is the whole state and a crash at any
point leaves it consistent. A file lock keeps other gemma-code processes out while it works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gemma_code.tools.textfile import atomic_write

from .git_env import execute, git_error, git_executable, nul_join, shadow_env
from .lock import FileLock

log = logging.getLogger(__name__)

REF = "refs/heads/checkpoints"
KEEP = "refs/gemma-code/keep/"  # refs/gemma-code/keep/<sha> holds <sha> (see git_state)
LOCK_NAME = "gemma-code.lock"
TRAILER_PREFIX = "Gemma-Code-"
GITLINK = 0o160000
SYMLINK = 0o120000
# Git's own lock files that a killed git can leave behind in the shadow repository.
GIT_LOCKS = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", f"{REF}.lock")
# Blobs must hold the bytes on disk: no clean/smudge filters (git-lfs), no eol or encoding.
SHADOW_ATTRIBUTES = "* -text -eol -filter -ident -working-tree-encoding\n"


@dataclass(frozen=True)
class Snapshot:
    sha: str
    tree: str
    time: int
    kind: str  # before | after | undo-safety | undo
    turn: str
    label: str
    undoes: str = ""
    index: str = ""  # (older snapshots) blob of the user's staged entries before the turn
    git: str = ""  # blob of the user's git state (`git_state`); "" outside a repository


@dataclass(frozen=True)
class Change:
    """One path that differs between two snapshots (old mode 0: the path was created)."""

    old_mode: int
    new_mode: int
    old_sha: str
    path: str


@dataclass(frozen=True)
class Turn:
    before: Snapshot
    end: Snapshot | None  # the after snapshot, or for an unfinished turn the next snapshot
    undone: bool


class ShadowRepo:
    """The snapshots of one workspace (`root`), kept in the repository at `git_dir`."""

    def __init__(self, git_dir: Path, root: Path, lock_timeout: float) -> None:
        self.git_dir = git_dir
        self.root = root
        self.lock_timeout = lock_timeout
        self.pending_keeps: list[str] = []  # objects to hold by refs with the next snapshot
        self._lock = FileLock(git_dir / LOCK_NAME)
        self._depth = 0
        self._thread_lock = threading.RLock()
        self._ready = False

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the repository (created on first use) for this process and thread."""
        with self._thread_lock:
            if self._depth == 0:
                self.git_dir.mkdir(parents=True, exist_ok=True)
                self._lock.acquire(self.lock_timeout)
                self._remove_stale_git_locks()
            self._depth += 1
            try:
                if not self._ready:
                    self._init()
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._lock.release()

    def _remove_stale_git_locks(self) -> None:
        # We hold the lock, and every git we ever started on this repository holds it until it
        # exits: a git lock file here was left by a git that was killed.
        for name in GIT_LOCKS:
            stale = self.git_dir / name
            if stale.exists():
                log.warning("removing %s, left by a git process that was killed", stale)
                stale.unlink(missing_ok=True)

    def _init(self) -> None:
        if not all((self.git_dir / p).exists() for p in ("HEAD", "objects", "refs")):
            # With --git-dir and --work-tree set, this makes a repository at git_dir whose
            # work tree is the workspace (bare would refuse an inherited GIT_WORK_TREE).
            self.git("init", "--quiet", "--template=")
        (self.git_dir / "hooks-disabled").mkdir(exist_ok=True)
        info = self.git_dir / "info"
        info.mkdir(exist_ok=True)
        _write_if_changed(info / "attributes", SHADOW_ATTRIBUTES.encode())
        self._ready = True

    def git(self, *args: str, data: bytes | None = None, check: bool = True,
            extra_env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        """Run git on the shadow repository; (status, stdout, stderr)."""
        env = shadow_env(self.git_dir, self.root)
        env.update(extra_env or {})
        cmd = [git_executable(), f"--git-dir={self.git_dir}", f"--work-tree={self.root}", *args]
        pass_fds = (self._lock.fd,) if self._lock.fd is not None else ()
        return execute(self.root, cmd, env, data, check, pass_fds)

    # -- snapshots ----------------------------------------------------------------------

    def snapshot(self, kind: str, turn: str, label: str, undoes: str = "",
                 force: Iterable[str] = (), git: Callable[[], str] | None = None) -> Snapshot:
        """Commit the workspace as it is now onto the checkpoints ref.

        `force` adds paths even if ignored; `git` records the user's git state and gives the
        blob that holds it (named by the `Git` trailer); `pending_keeps` are written with it.
        """
        tree = self._write_tree(force)
        parent = self.head()
        git_state = git() if git is not None else ""
        trailers = {"Kind": kind, "Turn": turn, "Label": label, "Undoes": undoes,
                    "Git": git_state}
        message = f"gemma-code {kind} {turn}\n\n" + "".join(
            f"{TRAILER_PREFIX}{key}: {value}\n" for key, value in trailers.items() if value
        )
        parents = ["-p", parent] if parent else []
        sha = self.git("commit-tree", tree, *parents, data=message.encode())[1].decode().strip()
        # The old value makes the update fail rather than drop a commit someone else added.
        updates = [f"update {REF} {sha} {parent or '0' * len(sha)}",
                   *(f"update {KEEP}{keep} {keep}" for keep in self.pending_keeps)]
        self.git("update-ref", "-m", f"checkpoint: {kind}", "--stdin",
                 data="".join(f"{line}\n" for line in updates).encode())
        self.pending_keeps.clear()
        return Snapshot(sha, tree, int(time.time()), kind, turn, label, undoes, git=git_state)

    def tree(self) -> str:
        """The workspace as it is now, as a tree object; nothing is committed."""
        return self._write_tree(())

    def _write_tree(self, force: Iterable[str]) -> str:
        """Stage the whole workspace in the shadow index; the tree it makes."""
        self._sync_excludes()
        rc, _, err = self.git("add", "--all", "--ignore-errors", check=False)
        if rc != 0:
            # --ignore-errors still writes the index; only unreadable files are left out.
            if "fatal:" in err or "error:" not in err:
                raise git_error(("add", "--all"), err)
            log.warning("checkpoint: some files could not be snapshotted:\n%s", err)
        force = list(force)
        if force:
            self.git("add", "--all", "--force", "--pathspec-from-file=-", "--pathspec-file-nul",
                     data=nul_join(force))
        return self.git("write-tree")[1].decode().strip()

    def head(self) -> str | None:
        """The newest snapshot's commit, or None before the first."""
        loose = _loose_ref(self.git_dir / REF)  # a file once written: no git process needed
        if loose is not None:
            return loose
        rc, out, _ = self.git("rev-parse", "--quiet", "--verify", f"{REF}^{{commit}}", check=False)
        return out.decode().strip() if rc == 0 else None

    def _sync_excludes(self) -> None:
        """The shadow repo's info/exclude: the user's, plus the checkpoint store if it is inside."""
        lines = ["# written by gemma-code on every snapshot"]
        user_exclude = _user_exclude_file(self.root)
        if user_exclude is not None:
            lines.append(user_exclude.read_text(encoding="utf-8", errors="surrogateescape"))
        if self.git_dir.is_relative_to(self.root):
            lines.append(_literal_pattern(self.git_dir.relative_to(self.root).as_posix()))
        _write_if_changed(self.git_dir / "info" / "exclude",
                          "\n".join(lines).encode("utf-8", errors="surrogateescape") + b"\n")

    # -- reading the history ------------------------------------------------------------

    def history(self) -> list[Snapshot]:
        """Every snapshot, newest first."""
        if self.head() is None:
            return []
        out = self.git("log", "-z", "--format=%H%x1f%T%x1f%ct%x1f%B", REF)[1].decode(errors="replace")
        return [_parse_snapshot(record) for record in out.split("\0") if record.strip()]

    def turns(self) -> list[Turn]:
        """Every turn that changed files, or may have, newest first."""
        history = self.history()
        undone = {s.undoes for s in history if s.kind == "undo"}
        afters = {s.turn: s for s in history if s.kind == "after"}
        turns = []
        for i, snap in enumerate(history):
            if snap.kind != "before":
                continue
            # A turn killed before its after snapshot ended, at the latest, when the next
            # snapshot (of any kind) was taken.
            end = afters.get(snap.turn) or (history[i - 1] if i > 0 else None)
            if end is not None and (end.tree, end.git) == (snap.tree, snap.git):
                continue
            turns.append(Turn(snap, end, snap.turn in undone))
        return turns

    def changes(self, old_tree: str, new_tree: str) -> list[Change]:
        """The paths that differ between two trees (nested repositories left out)."""
        out = self.git("diff-tree", "-r", "-z", "--raw", "--no-abbrev", "--no-renames",
                       old_tree, new_tree)[1]
        return [c for c in _parse_raw(out) if GITLINK not in (c.old_mode, c.new_mode)]

    def changed_paths(self, pairs: list[tuple[str, str]]) -> list[tuple[str, ...]]:
        """The paths changed between each (old, new) tree pair, in one git call."""
        if not pairs:
            return []
        lines = "".join(f"{old} {new}\n" for old, new in pairs).encode()
        out = self.git("diff-tree", "--stdin", "-r", "-z", "--raw", "--no-abbrev",
                       "--no-renames", data=lines)[1]
        result = _parse_stdin_raw(out)
        return [tuple(result.get(pair, ())) for pair in pairs]

    def missing(self, shas: Iterable[str]) -> list[str]:
        """The objects of `shas` this repository does not have."""
        query = "".join(f"{sha}\n" for sha in sorted(set(shas))).encode()
        if not query:
            return []
        out = self.git("cat-file", "--batch-check=%(objectname)", data=query)[1].decode()
        return [line.split()[0] for line in out.splitlines() if line.endswith(" missing")]

    def blobs(self, shas: list[str]) -> dict[str, bytes]:
        """The content of each blob, by sha."""
        if not shas:
            return {}
        out = self.git("cat-file", "--batch", data="".join(f"{s}\n" for s in set(shas)).encode())[1]
        blobs, pos = {}, 0
        while pos < len(out):
            header_end = out.index(b"\n", pos)
            sha, _kind, size = out[pos:header_end].decode().split()
            start = header_end + 1
            blobs[sha] = out[start:start + int(size)]
            pos = start + int(size) + 1
        return blobs


def _parse_snapshot(record: str) -> Snapshot:
    sha, tree, stamp, body = record.lstrip("\n").split("\x1f", 3)
    fields = {}
    for line in body.splitlines():
        if line.startswith(TRAILER_PREFIX) and ": " in line:
            key, value = line[len(TRAILER_PREFIX):].split(": ", 1)
            fields[key] = value
    return Snapshot(sha, tree, int(stamp), fields.get("Kind", ""), fields.get("Turn", ""),
                    fields.get("Label", ""), fields.get("Undoes", ""), fields.get("Index", ""),
                    fields.get("Git", ""))


def _parse_raw(out: bytes) -> list[Change]:
    """Parse `git diff-tree -z --raw` output: ':old new oldsha newsha status\\0path\\0'..."""
    parts = out.split(b"\0")
    changes = []
    for meta, path in zip(parts[0::2], parts[1::2]):
        old_mode, new_mode, old_sha, _new_sha, _status = meta.lstrip(b":").decode().split()
        changes.append(Change(int(old_mode, 8), int(new_mode, 8), old_sha, os.fsdecode(path)))
    return changes


def _parse_stdin_raw(out: bytes) -> dict[tuple[str, str], list[str]]:
    """Parse `git diff-tree --stdin -z --raw`: each pair's line, then its changed paths."""
    result: dict[tuple[str, str], list[str]] = {}
    current: list[str] = []
    pos = 0
    while pos < len(out):
        if out[pos:pos + 1] == b":":
            meta_end = out.index(b"\0", pos)
            path_end = out.index(b"\0", meta_end + 1)
            modes = out[pos + 1:meta_end].split()[:2]
            if GITLINK not in (int(modes[0], 8), int(modes[1], 8)):
                current.append(os.fsdecode(out[meta_end + 1:path_end]))
            pos = path_end + 1
        else:  # "<old> <new>\n" heads the changes of each pair
            line_end = out.index(b"\n", pos)
            old, new = out[pos:line_end].decode().split()
            current = result[(old, new)] = []
            pos = line_end + 1
    return result


def _loose_ref(path: Path) -> str | None:
    """The object name a loose ref file holds (it wins over packed-refs), or None."""
    try:
        text = path.read_bytes().decode("ascii").strip()
    except (OSError, UnicodeDecodeError):  # none (packed, reftable, not written yet) or odd
        return None
    is_name = len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)
    return text if is_name else None


def _user_exclude_file(root: Path) -> Path | None:
    """The `info/exclude` of the repository whose top is `root`, found without running git.

    When the workspace is a subfolder of a repository its anchored patterns would mean other
    paths here, so they are not used (more gets snapshotted, never less).
    """
    dot_git = root / ".git"
    if dot_git.is_dir():
        git_dir = dot_git
    elif dot_git.is_file():  # a linked worktree or submodule: "gitdir: <path>"
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if not text.startswith("gitdir:"):
            return None
        git_dir = (root / text.removeprefix("gitdir:").strip()).resolve()
        common = git_dir / "commondir"
        if common.is_file():
            git_dir = (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
    else:
        return None
    exclude = git_dir / "info" / "exclude"
    return exclude if exclude.is_file() else None


def _literal_pattern(rel: str) -> str:
    """A gitignore line matching exactly the folder `rel` below the top."""
    escaped = "".join("\\" + ch if ch in "\\*?[!#" else ch for ch in rel)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return f"/{escaped}/"


def _write_if_changed(path: Path, data: bytes) -> None:
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    atomic_write(path, data)
