"""Checkpoints: the workspace is snapshotted around every agent turn, so a turn can be undone.

Snapshots live in a shadow git repository outside the workspace (one per workspace, under the
user data dir), driven with `--git-dir`/`--work-tree` and its own index. Snapshots only read
the user's repository (the staged entries, so that undo can put back what the turn staged);
their branches, stash and config are never written. Undo writes their index only for the
files the turn changed, and only where the turn changed the staging (an agent's `git mv` or
`git add`): everything else the user staged stays staged. Only the optional auto-commit
commits in their repository.

Every snapshot is a commit on one ref of the shadow repository; what it is (before, after,
undo-safety, undo), its turn and its label are trailers of the commit message, so the history
alone is the whole state and a crash at any point leaves it consistent.

Covered: every file git would see as untracked or tracked in the workspace. Not covered: files
ignored by `.gitignore`, `.git/info/exclude` (copied into the shadow repository when the
workspace is the top of a git repository) or the global excludes file, and whatever is inside
nested git repositories or submodules. Undo neither restores nor deletes those.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import git

from gemma_code.tools.textfile import atomic_write

log = logging.getLogger(__name__)

CHECKPOINTS_DIR_ENV = "GEMMA_CODE_CHECKPOINTS_DIR"
REF = "refs/heads/checkpoints"
LOCK_NAME = "gemma-code.lock"
TRAILER_PREFIX = "Gemma-Code-"
IDENTITY = {"name": "gemma-code checkpoints", "email": "checkpoints@gemma-code.invalid"}
FALLBACK_AUTHOR = {"name": "gemma-code", "email": "gemma-code@localhost"}
LABEL_CHARS = 72
SUBJECT_LABEL_CHARS = 60
GITLINK = 0o160000
SYMLINK = 0o120000
# Git's own lock files that a killed git can leave behind in the shadow repository.
GIT_LOCKS = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", f"{REF}.lock")

# Settings for every shadow command, passed as environment config so that they win over the
# user's global config and need no writes: no hooks, no signing, no line-ending conversion,
# no fsmonitor daemon (it would outlive us), no automatic gc.
SHADOW_CONFIG = {
    "commit.gpgSign": "false",
    "core.autocrlf": "false",
    "core.safecrlf": "false",
    "core.fsmonitor": "false",
    "core.quotePath": "false",
    "gc.auto": "0",
    "advice.addEmbeddedRepo": "false",
}
# Blobs must hold the bytes on disk: no clean/smudge filters (git-lfs), no eol or encoding.
SHADOW_ATTRIBUTES = "* -text -eol -filter -ident -working-tree-encoding\n"


def default_checkpoints_dir() -> Path:
    import platformdirs

    override = os.environ.get(CHECKPOINTS_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("gemma-code")) / "checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    """One agent turn that changed (or, if it never finished, may have changed) files."""

    id: str  # short sha of the before-turn snapshot
    turn: str
    created: datetime
    label: str  # the user's prompt, first line, shortened
    files: tuple[str, ...]  # workspace-relative posix paths the turn changed; () if unknown yet
    undone: bool

    def as_json(self) -> dict:
        return {"id": self.id, "turn": self.turn, "created": self.created.isoformat(),
                "label": self.label, "files": list(self.files), "undone": self.undone}


@dataclass(frozen=True)
class UndoResult:
    checkpoint: Checkpoint
    restored: tuple[str, ...]  # written back to their before-turn content
    deleted: tuple[str, ...]  # created by the turn, removed again
    # Changed by someone after the turn ended; what they held before the undo is in the
    # safety snapshot (see Checkpoints.file_at).
    overwritten_later_edits: tuple[str, ...]
    safety_snapshot: str = ""  # the commit holding the workspace as it was before the undo
    skipped: tuple[str, ...] = ()  # could not be restored (e.g. a directory now in the way)


def undo_summary(result: UndoResult) -> str:
    """What an undo did, for people."""
    lines = [f"undid the turn \"{result.checkpoint.label}\" (checkpoint {result.checkpoint.id})"]
    for title, paths in (("restored", result.restored), ("removed", result.deleted),
                         ("could not restore", result.skipped)):
        if paths:
            lines.append(f"  {title}: {', '.join(paths)}")
    if result.overwritten_later_edits:
        lines.append(
            f"  changed after the turn too: {', '.join(result.overwritten_later_edits)}; "
            f"that later state is kept in snapshot {result.safety_snapshot[:12]}"
        )
    return "\n".join(lines)


class CheckpointError(Exception):
    """A snapshot or an undo could not be done; the message says why."""


@dataclass(frozen=True)
class _Snapshot:
    sha: str
    tree: str
    time: int
    kind: str  # before | after | undo-safety | undo
    turn: str
    label: str
    undoes: str = ""
    index: str = ""  # blob holding the user's staged entries (`ls-files -s`) before the turn


@dataclass(frozen=True)
class _Change:
    old_mode: int
    new_mode: int
    old_sha: str
    path: str


@dataclass(frozen=True)
class _Turn:
    before: _Snapshot
    end: _Snapshot | None  # the after snapshot, or for an unfinished turn the next snapshot
    undone: bool


class _FileLock:
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


class Checkpoints:
    """Snapshots of one workspace around agent turns, with undo and optional auto-commit."""

    def __init__(self, root: Path, store: Path | None = None, *, lock_timeout: float = 20.0) -> None:
        self.root = Path(root).resolve()
        store = Path(store) if store is not None else default_checkpoints_dir()
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        self.git_dir = store.resolve() / f"{self.root.name or 'root'}-{digest}"
        self.lock_timeout = lock_timeout
        self._lock = _FileLock(self.git_dir / LOCK_NAME)
        self._depth = 0
        self._thread_lock = threading.RLock()
        self._ready = False
        self._turn: tuple[str, str] | None = None  # (turn id, label)
        self._before: _Snapshot | None = None

    # -- turns --------------------------------------------------------------------------

    def begin_turn(self, label: str) -> None:
        """A new agent turn starts; nothing is snapshotted until its first change."""
        if self._before is not None:  # the previous turn was never ended
            try:
                self.end_turn()
            except CheckpointError as err:  # it ends at the next snapshot instead
                log.warning("could not close the previous turn's checkpoint: %s", err)
        now = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        self._turn = (f"{now}-{secrets.token_hex(3)}", _shorten(_first_line(label), LABEL_CHARS))
        self._before = None

    def before_change(self) -> None:
        """Call before every tool call that may change files; snapshots once per turn."""
        if self._turn is None:
            self.begin_turn("")
        if self._before is None:
            turn, label = self._turn
            with self._locked():
                self._before = self._snapshot("before", turn, label)

    def end_turn(self) -> Checkpoint | None:
        """Snapshot the state after the turn; the turn's checkpoint, or None if it changed nothing."""
        before, self._before, self._turn = self._before, None, None
        if before is None:
            return None
        with self._locked():
            after = self._snapshot("after", before.turn, before.label)
            if after.tree == before.tree:
                return None
            changes = self._changes(before.tree, after.tree)
        return _checkpoint(before, (c.path for c in changes), undone=False)

    # -- history ------------------------------------------------------------------------

    def list(self) -> list[Checkpoint]:
        """The checkpoints of this workspace, newest first."""
        with self._locked():
            turns = self._turns()
            ends = [(t.before.tree, t.end.tree) for t in turns if t.end is not None]
            changed = iter(self._changed_paths(ends))
        return [
            _checkpoint(t.before, next(changed) if t.end is not None else (), t.undone) for t in turns
        ]

    def file_at(self, snapshot: str, path: str) -> bytes | None:
        """The content of `path` in a snapshot (e.g. an UndoResult's safety_snapshot), or None."""
        rc, out, _ = self._git("cat-file", "blob", f"{snapshot}:{path}", check=False)
        return out if rc == 0 else None

    # -- undo ---------------------------------------------------------------------------

    def undo(self) -> UndoResult:
        """Restore the files changed by the newest turn not undone yet."""
        with self._locked():
            turn = next((t for t in self._turns() if not t.undone), None)
            if turn is None:
                raise CheckpointError(f"nothing to undo in {self.root}")
            before = turn.before
            changes = self._changes(before.tree, turn.end.tree) if turn.end else []
            # Files the turn touched that are on disk now are forced into the safety
            # snapshot, even if an ignore rule would keep them out by now.
            present = [c.path for c in changes if os.path.lexists(self.root / c.path)]
            safety = self._snapshot("undo-safety", before.turn, before.label, force=present)
            if turn.end is None:  # still running, or killed before its after snapshot
                end_tree = safety.tree
                changes = self._changes(before.tree, end_tree)
                if not changes:  # cut off before it changed anything: go one turn further
                    self._snapshot("undo", before.turn, before.label, undoes=before.turn)
                    return self.undo()
            else:
                end_tree = turn.end.tree
            later = self._later_edits(end_tree, safety.tree, changes)
            restored, deleted, skipped = self._restore(changes)
            self._restore_staging(before.index, [c.path for c in changes])
            self._snapshot("undo", before.turn, before.label, undoes=before.turn)
        files = tuple(c.path for c in changes)
        return UndoResult(
            checkpoint=_checkpoint(before, files, undone=True),
            restored=restored, deleted=deleted, overwritten_later_edits=later,
            safety_snapshot=safety.sha, skipped=skipped,
        )

    def _later_edits(self, end_tree: str, now_tree: str, changes: list[_Change]) -> tuple[str, ...]:
        if end_tree == now_tree:
            return ()
        touched = {c.path for c in changes}
        return tuple(c.path for c in self._changes(end_tree, now_tree) if c.path in touched)

    def _restore(self, changes: list[_Change]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Put every changed path back as it was before: deletions first, then writes."""
        restored, deleted, skipped = [], [], []
        for change in changes:
            if change.old_mode == 0:
                (deleted if self._delete(change.path) else skipped).append(change.path)
        writes = [c for c in changes if c.old_mode != 0]
        blobs = self._blobs([c.old_sha for c in writes])
        for change in writes:
            try:
                self._write(change.path, blobs[change.old_sha], change.old_mode)
            except OSError as err:
                log.warning("undo: could not restore %s: %s", change.path, err)
                skipped.append(change.path)
            else:
                restored.append(change.path)
        return tuple(restored), tuple(deleted), tuple(skipped)

    def _restore_staging(self, saved_blob: str, paths: list[str]) -> None:
        """Put the user's index entries for `paths` back as they were before the turn."""
        repo = self._user_repo()
        if not saved_blob or repo is None or not paths:
            return
        saved = self._git("cat-file", "blob", saved_blob)[1]
        try:
            _UserRepo(repo, self.root).restore_entries(saved, paths)
        except CheckpointError as err:  # the files are back; only their staging is not
            log.warning("undo: the staging of the turn's files was not restored: %s", err)

    def _delete(self, rel: str) -> bool:
        path = self.root / rel
        if not os.path.lexists(path):
            return True
        if path.is_dir() and not path.is_symlink():
            return False  # a directory now stands where the turn created a file; leave it
        if not self._inside(path.parent):
            return False
        path.unlink()
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()  # only succeeds while empty
            except OSError:
                break
            parent = parent.parent
        return True

    def _write(self, rel: str, data: bytes, mode: int) -> None:
        path = self.root / rel
        existing = path.parent
        while not existing.exists():
            existing = existing.parent
        # A folder replaced by a link to elsewhere must not make us write outside the workspace.
        if not self._inside(existing):
            raise OSError(f"{existing} now leads outside the workspace")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(f"{rel} is a directory now")
        if mode == SYMLINK:
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            os.symlink(os.fsdecode(data), tmp)
            try:
                os.replace(tmp, path)
            except OSError:
                tmp.unlink(missing_ok=True)
                raise
            return
        if path.is_symlink():
            path.unlink()  # atomic_write would keep the link's target's mode
        atomic_write(path, data)
        current = path.stat().st_mode & 0o7777
        wanted = current | (current & 0o444) >> 2 if mode & 0o111 else current & ~0o111
        if wanted != current:
            os.chmod(path, wanted)

    def _inside(self, directory: Path) -> bool:
        return directory.resolve().is_relative_to(self.root)

    # -- auto-commit to the user's repository -------------------------------------------

    def commit_turn(self, checkpoint: Checkpoint, message_body: str = "") -> str | None:
        """Commit the turn's files (only those) to the user's repository.

        Anything else the user had staged stays staged and out of the commit. Returns the new
        commit's sha, or None when the workspace is not in a git repository or nothing of the
        turn is left to commit.
        """
        if checkpoint.undone:
            raise CheckpointError(f"checkpoint {checkpoint.id} was undone; there is nothing to commit")
        repo = self._user_repo()
        if repo is None or not checkpoint.files:
            return None
        return _UserRepo(repo, self.root).commit(checkpoint, message_body)

    def _user_repo(self) -> git.Repo | None:
        try:
            repo = git.Repo(self.root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        return None if repo.bare or repo.working_tree_dir is None else repo

    # -- the shadow repository ----------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
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
            self._git("init", "--quiet", "--template=")
        (self.git_dir / "hooks-disabled").mkdir(exist_ok=True)
        info = self.git_dir / "info"
        info.mkdir(exist_ok=True)
        _write_if_changed(info / "attributes", SHADOW_ATTRIBUTES.encode())
        self._ready = True

    def _git(self, *args: str, data: bytes | None = None, check: bool = True,
             extra_env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        """Run git on the shadow repository; (status, stdout, stderr)."""
        env = _isolated_env(self.git_dir, self.git_dir, self.root, self.git_dir / "index")
        config = {**SHADOW_CONFIG, "core.hooksPath": str(self.git_dir / "hooks-disabled")}
        env.update(_config_env(config))
        env.update(GIT_NO_REPLACE_OBJECTS="1")
        for role in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = IDENTITY["name"], IDENTITY["email"]
        env.update(extra_env or {})
        cmd = [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", f"--git-dir={self.git_dir}",
               f"--work-tree={self.root}", *args]
        pass_fds = (self._lock.fd,) if self._lock.fd is not None else ()
        return _execute(self.root, cmd, env, data, check, pass_fds)

    def _snapshot(self, kind: str, turn: str, label: str, undoes: str = "",
                  force: Iterable[str] = ()) -> _Snapshot:
        """Commit the workspace as it is now onto the checkpoints ref."""
        self._sync_excludes()
        rc, _, err = self._git("add", "--all", "--ignore-errors", check=False)
        if rc != 0:
            # --ignore-errors still writes the index; only unreadable files are left out.
            if "fatal:" in err or "error:" not in err:
                raise _git_error(("add", "--all"), err)
            log.warning("checkpoint: some files could not be snapshotted:\n%s", err)
        force = list(force)
        if force:
            self._git("add", "--all", "--force", "--pathspec-from-file=-", "--pathspec-file-nul",
                      data=_nul_join(force))
        tree = self._git("write-tree")[1].decode().strip()
        parent = self._head()
        index = self._save_user_index() if kind == "before" else ""
        trailers = {"Kind": kind, "Turn": turn, "Label": label, "Undoes": undoes, "Index": index}
        message = f"gemma-code {kind} {turn}\n\n" + "".join(
            f"{TRAILER_PREFIX}{key}: {value}\n" for key, value in trailers.items() if value
        )
        parents = ["-p", parent] if parent else []
        sha = self._git("commit-tree", tree, *parents, data=message.encode())[1].decode().strip()
        # The old value makes the update fail rather than drop a commit someone else added.
        self._git("update-ref", "-m", f"checkpoint: {kind}", REF, sha, parent or "0" * len(sha))
        return _Snapshot(sha, tree, int(time.time()), kind, turn, label, undoes, index)

    def _save_user_index(self) -> str:
        """The user's staged entries as a blob of the shadow repository ("" outside a repository)."""
        repo = self._user_repo()
        if repo is None:
            return ""
        entries = _UserRepo(repo, self.root).git("ls-files", "--stage", "-z")[1]
        return self._git("hash-object", "-w", "--stdin", data=entries)[1].decode().strip()

    def _head(self) -> str | None:
        rc, out, _ = self._git("rev-parse", "--quiet", "--verify", f"{REF}^{{commit}}", check=False)
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

    def _history(self) -> list[_Snapshot]:
        if self._head() is None:
            return []
        out = self._git("log", "-z", "--format=%H%x1f%T%x1f%ct%x1f%B", REF)[1].decode(errors="replace")
        return [_parse_snapshot(record) for record in out.split("\0") if record.strip()]

    def _turns(self) -> list[_Turn]:
        """Every turn that changed files, or may have, newest first."""
        history = self._history()
        undone = {s.undoes for s in history if s.kind == "undo"}
        afters = {s.turn: s for s in history if s.kind == "after"}
        turns = []
        for i, snap in enumerate(history):
            if snap.kind != "before":
                continue
            # A turn killed before its after snapshot ended, at the latest, when the next
            # snapshot (of any kind) was taken.
            end = afters.get(snap.turn) or (history[i - 1] if i > 0 else None)
            if end is not None and end.tree == snap.tree:
                continue
            turns.append(_Turn(snap, end, snap.turn in undone))
        return turns

    def _changes(self, old_tree: str, new_tree: str) -> list[_Change]:
        out = self._git("diff-tree", "-r", "-z", "--raw", "--no-abbrev", "--no-renames",
                        old_tree, new_tree)[1]
        return [c for c in _parse_raw(out) if GITLINK not in (c.old_mode, c.new_mode)]

    def _changed_paths(self, pairs: list[tuple[str, str]]) -> list[tuple[str, ...]]:
        """The paths changed between each (old, new) tree pair, in one git call."""
        if not pairs:
            return []
        lines = "".join(f"{old} {new}\n" for old, new in pairs).encode()
        out = self._git("diff-tree", "--stdin", "-r", "-z", "--raw", "--no-abbrev",
                        "--no-renames", data=lines)[1]
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
        return [tuple(result.get(pair, ())) for pair in pairs]

    def _blobs(self, shas: list[str]) -> dict[str, bytes]:
        if not shas:
            return {}
        out = self._git("cat-file", "--batch", data="".join(f"{s}\n" for s in set(shas)).encode())[1]
        blobs, pos = {}, 0
        while pos < len(out):
            header_end = out.index(b"\n", pos)
            sha, _kind, size = out[pos:header_end].decode().split()
            start = header_end + 1
            blobs[sha] = out[start:start + int(size)]
            pos = start + int(size) + 1
        return blobs


class _UserRepo:
    """Auto-commit of one turn's files to the user's own repository."""

    EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

    def __init__(self, repo: git.Repo, root: Path) -> None:
        self.repo = repo
        self.top = Path(repo.working_tree_dir).resolve()
        self.prefix = root.relative_to(self.top).as_posix()

    def git(self, *args: str, data: bytes | None = None, check: bool = True,
            extra_env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        git_dir = Path(self.repo.git_dir)
        env = _isolated_env(git_dir, Path(self.repo.common_dir), self.top, git_dir / "index")
        env.update(extra_env or {})
        cmd = [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", *args]
        return _execute(self.top, cmd, env, data, check, ())

    def commit(self, checkpoint: Checkpoint, body: str) -> str | None:
        tracked = self._tracked()
        paths = self._committable([self._repo_path(f) for f in checkpoint.files], tracked)
        if not paths:
            return None
        new = [p for p in paths if p not in tracked]
        if new:  # intent-to-add, so that `commit --only` takes them (and diff counts them)
            self.git("add", "--intent-to-add", "--pathspec-from-file=-", "--pathspec-file-nul",
                     data=_nul_join(new))
        counts = self._numstat(set(paths))
        if not counts:
            self._forget(new)
            return None
        message = _commit_message(checkpoint.label, body, counts)
        # No --no-verify: this is the user's repository, and their hooks (secret scanners,
        # linters, sign-off checks) are their rules for what gets committed, ours included.
        rc, _, err = self.git(
            "commit", "--only", "--quiet", "--cleanup=whitespace", "-m", message,
            "--pathspec-from-file=-", "--pathspec-file-nul",
            data=_nul_join(paths), check=False, extra_env=self._identity_env(),
        )
        if rc != 0:
            self._forget(new)
            raise CheckpointError(f"auto-commit failed; the turn's changes are left uncommitted:\n{err.strip()}")
        return self.git("rev-parse", "HEAD")[1].decode().strip()

    def restore_entries(self, saved: bytes, paths: list[str]) -> None:
        """Make the index entries of `paths` what they were in `saved` (`ls-files -s -z`)."""
        wanted = {self._repo_path(p) for p in paths}
        before, now = _stage_entries(saved, wanted), _stage_entries(
            self.git("ls-files", "--stage", "-z")[1], wanted)
        lines = [before[path] for path in wanted if path in before and before[path] != now.get(path)]
        lines += [os.fsencode(f"0 {'0' * 40}\t{path}") for path in wanted
                  if path in now and path not in before]
        if lines:
            self.git("update-index", "-z", "--index-info", data=b"".join(l + b"\0" for l in lines))

    def _repo_path(self, workspace_path: str) -> str:
        return f"{self.prefix}/{workspace_path}" if self.prefix not in ("", ".") else workspace_path

    def _tracked(self) -> set[str]:
        names = self.git("ls-files", "-z", "--cached")[1].split(b"\0")
        if self.repo.head.is_valid():
            names += self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD")[1].split(b"\0")
        return {os.fsdecode(n) for n in names if n}

    def _committable(self, paths: list[str], tracked: set[str]) -> list[str]:
        """The paths git knows, plus new files that no ignore rule keeps out."""
        untracked = [p for p in paths if p not in tracked and os.path.lexists(self.top / p)]
        ignored: set[str] = set()
        if untracked:
            # check-ignore takes plain names and refuses the literal pathspec setting.
            rc, out, err = self.git("check-ignore", "-z", "--stdin", data=_nul_join(untracked),
                                    check=False, extra_env={"GIT_LITERAL_PATHSPECS": "0"})
            if rc not in (0, 1):
                raise _git_error(("check-ignore",), err)
            ignored = {os.fsdecode(n) for n in out.split(b"\0") if n}
        return [p for p in paths if p in tracked or (p in untracked and p not in ignored)]

    def _numstat(self, paths: set[str]) -> dict[str, tuple[str, str]]:
        base = "HEAD" if self.repo.head.is_valid() else self.EMPTY_TREE
        out = self.git("diff", "--numstat", "-z", "--no-renames", base)[1]
        counts = {}
        for record in out.split(b"\0"):
            if record:
                added, removed, name = record.decode(errors="surrogateescape").split("\t", 2)
                if name in paths:
                    counts[name] = (added, removed)
        return counts

    def _forget(self, new: list[str]) -> None:
        if new:
            self.git("rm", "--cached", "--quiet", "--pathspec-from-file=-", "--pathspec-file-nul",
                     data=_nul_join(new), check=False)

    def _identity_env(self) -> dict[str, str]:
        """The user's identity when configured; otherwise a fallback, without touching their config."""
        env = {}
        for key in ("name", "email"):
            if self.git("config", "--get", f"user.{key}", check=False)[0] == 0:
                continue
            for role in ("AUTHOR", "COMMITTER"):
                variable = f"GIT_{role}_{key.upper()}"
                if not os.environ.get(variable) and not (key == "email" and os.environ.get("EMAIL")):
                    env[variable] = FALLBACK_AUTHOR[key]
        return env


# -- helpers ------------------------------------------------------------------------------


def _isolated_env(git_dir: Path, common_dir: Path, work_tree: Path, index: Path) -> dict[str, str]:
    """Environment for one repository: inherited GIT_* variables neutralised.

    gitpython can only add to the environment, not remove from it, so every variable that
    could point git elsewhere (a parent git's GIT_DIR or GIT_INDEX_FILE, say, when run from a
    hook) is set to this repository's own value or to one that means "unset".
    """
    return {
        "GIT_DIR": str(git_dir),
        "GIT_WORK_TREE": str(work_tree),
        "GIT_INDEX_FILE": str(index),
        "GIT_COMMON_DIR": str(common_dir),
        "GIT_OBJECT_DIRECTORY": str(common_dir / "objects"),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": "",
        "GIT_NAMESPACE": "",
        "GIT_CONFIG_PARAMETERS": "",
        "GIT_CONFIG_COUNT": "0",
        "GIT_LITERAL_PATHSPECS": "1",  # file names with * or [ are names, not patterns
        "GIT_GLOB_PATHSPECS": "0",
        "GIT_NOGLOB_PATHSPECS": "0",
        "GIT_ICASE_PATHSPECS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_EDITOR": ":",
    }


def _config_env(config: dict[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    return env


def _execute(cwd: Path, cmd: list[str], env: dict[str, str], data: bytes | None,
             check: bool, pass_fds: tuple[int, ...]) -> tuple[int, bytes, str]:
    with tempfile.TemporaryFile() as stdin:
        if data is not None:
            stdin.write(data)
            stdin.seek(0)
        rc, out, err = git.Git(cwd).execute(
            cmd, istream=stdin if data is not None else None, env=env,
            with_extended_output=True, with_exceptions=False, stdout_as_string=False,
            strip_newline_in_stdout=False, pass_fds=pass_fds,
        )
    if check and rc != 0:
        raise _git_error(cmd[1:], err)
    return rc, out, err


def _git_error(args: Iterable[str], stderr: str) -> CheckpointError:
    command = " ".join(a for a in args if not a.startswith("--git-dir") and not a.startswith("--work-tree"))
    if "index.lock" in stderr and "File exists" in stderr:
        return CheckpointError(
            f"another git process is using the checkpoint repository (git {command}): {stderr.strip()}"
        )
    return CheckpointError(f"git {command} failed: {stderr.strip()}")


def _parse_snapshot(record: str) -> _Snapshot:
    sha, tree, stamp, body = record.lstrip("\n").split("\x1f", 3)
    fields = {}
    for line in body.splitlines():
        if line.startswith(TRAILER_PREFIX) and ": " in line:
            key, value = line[len(TRAILER_PREFIX):].split(": ", 1)
            fields[key] = value
    return _Snapshot(sha, tree, int(stamp), fields.get("Kind", ""), fields.get("Turn", ""),
                     fields.get("Label", ""), fields.get("Undoes", ""), fields.get("Index", ""))


def _parse_raw(out: bytes) -> list[_Change]:
    """Parse `git diff-tree -z --raw` output: ':old new oldsha newsha status\\0path\\0'..."""
    parts = out.split(b"\0")
    changes = []
    for meta, path in zip(parts[0::2], parts[1::2]):
        old_mode, new_mode, old_sha, _new_sha, _status = meta.lstrip(b":").decode().split()
        changes.append(_Change(int(old_mode, 8), int(new_mode, 8), old_sha, os.fsdecode(path)))
    return changes


def _checkpoint(before: _Snapshot, files: Iterable[str], undone: bool) -> Checkpoint:
    return Checkpoint(
        id=before.sha[:12], turn=before.turn,
        created=datetime.fromtimestamp(before.time, timezone.utc),
        label=before.label, files=tuple(files), undone=undone,
    )


def _commit_message(label: str, body: str, counts: dict[str, tuple[str, str]]) -> str:
    subject = f"gemma-code: {_shorten(label, SUBJECT_LABEL_CHARS) or 'changes'}"
    lines = [
        f"  {name} ({'binary' if added == '-' else f'+{added} -{removed}'})"
        for name, (added, removed) in sorted(counts.items())
    ]
    parts = [subject, body.strip(), "Files:\n" + "\n".join(lines)]
    return "\n\n".join(p for p in parts if p) + "\n"


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


def _stage_entries(listing: bytes, paths: set[str]) -> dict[str, bytes]:
    """`ls-files --stage -z` records ("mode sha stage\tpath") of `paths`, by path."""
    entries = {}
    for record in listing.split(b"\0"):
        if b"\t" in record:
            path = os.fsdecode(record.split(b"\t", 1)[1])
            if path in paths:
                entries[path] = record
    return entries


def _nul_join(paths: Iterable[str]) -> bytes:
    return b"".join(os.fsencode(p) + b"\0" for p in paths)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _shorten(text: str, limit: int) -> str:
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
