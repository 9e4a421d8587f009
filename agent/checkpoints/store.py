"""`Checkpoints`: snapshots of one workspace around agent turns, undo, and auto-commit.

The session calls `begin_turn`, `before_change` before every tool call that may change
files, and `end_turn`; `/undo` and `gemma-code undo` call `undo`. How the snapshots are
kept is in the package's docstring.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from .git_restore import restore_git
from .git_state import GitState, StateStore
from .nested_repos import NestedGit, NestedRepoWatch, staged_gitlinks
from .records import Checkpoint, CheckpointError, UndoResult, turn_label
from .restore import restore_files
from .shadow import Change, ShadowRepo, Snapshot
from ..host_git import host_repo
from .user_repo import find_user_repo

log = logging.getLogger(__name__)

CHECKPOINTS_DIR_ENV = "GEMMA_CODE_CHECKPOINTS_DIR"


def default_checkpoints_dir() -> Path:
    """Where shadow repositories live: $GEMMA_CODE_CHECKPOINTS_DIR, or the user data dir."""
    import platformdirs

    override = os.environ.get(CHECKPOINTS_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("gemma-code")) / "checkpoints"


class Checkpoints:
    """Snapshots of one workspace around agent turns, with undo and optional auto-commit."""

    def __init__(self, root: Path, store: Path | None = None, *, lock_timeout: float = 20.0) -> None:
        self.root = Path(root).resolve()
        store = Path(store) if store is not None else default_checkpoints_dir()
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        self.git_dir = store.resolve() / f"{self.root.name or 'root'}-{digest}"
        self._shadow = ShadowRepo(self.git_dir, self.root, lock_timeout)
        host_repo(self.root)  # the user's repository is trusted as it is now, at session start
        self._states = StateStore(self._shadow)
        self._turn: tuple[str, str] | None = None  # (turn id, label)
        self._before: Snapshot | None = None
        self._nested = NestedRepoWatch(self.root)
        self._gitlinks: frozenset[str] | None = frozenset()  # staged at the last snapshot
        # What the last ended turn did to git repositories below the top, said once.
        self.nested_git = NestedGit()

    # -- turns --------------------------------------------------------------------------

    def begin_turn(self, label: str) -> None:
        """A new agent turn starts; nothing is snapshotted until its first change."""
        if self._before is not None:  # the previous turn was never ended
            try:
                self.end_turn()
            except CheckpointError as err:  # it ends at the next snapshot instead
                log.warning("could not close the previous turn's checkpoint: %s", err)
        now = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        self._turn = (f"{now}-{secrets.token_hex(3)}", turn_label(label))
        self._before = None

    def before_change(self) -> None:
        """Call before every tool call that may change files; snapshots once per turn."""
        if self._turn is None:
            self.begin_turn("")
        if self._before is None:
            turn, label = self._turn
            with self._shadow.locked():
                self._before = self._shadow.snapshot("before", turn, label, git=self._git_state)
            self._nested.start(self._gitlinks)

    def changed_so_far(self) -> tuple[str, ...]:
        """The files the running turn has changed until now; records nothing."""
        if self._before is None:
            return ()
        with self._shadow.locked():
            tree = self._shadow.tree()
            if tree == self._before.tree:
                return ()
            return tuple(c.path for c in self._shadow.changes(self._before.tree, tree))

    def end_turn(self) -> Checkpoint | None:
        """Snapshot the state after the turn; the turn's checkpoint, or None if it changed nothing."""
        before, self._before, self._turn = self._before, None, None
        self.nested_git = NestedGit()
        if before is None:
            return None
        self._gitlinks = None  # unknown, should the snapshot fail
        try:
            with self._shadow.locked():
                after = self._shadow.snapshot("after", before.turn, before.label,
                                              git=self._git_state)
                if (after.tree, after.git) == (before.tree, before.git):
                    return None
                changes = self._shadow.changes(before.tree, after.tree)
        finally:
            self.nested_git = self._nested.finish(self._gitlinks)
        return _checkpoint(before, (c.path for c in changes), undone=False,
                           git_changed=after.git != before.git)

    # -- history ------------------------------------------------------------------------

    def list(self) -> list[Checkpoint]:
        """The checkpoints of this workspace, newest first."""
        with self._shadow.locked():
            turns = self._shadow.turns()
            ends = [(t.before.tree, t.end.tree) for t in turns if t.end is not None]
            changed = iter(self._shadow.changed_paths(ends))
        return [
            _checkpoint(t.before, next(changed) if t.end is not None else (), t.undone,
                        git_changed=t.end is not None and t.end.git != t.before.git)
            for t in turns
        ]

    def file_at(self, snapshot: str, path: str) -> bytes | None:
        """The content of `path` in a snapshot (e.g. an UndoResult's safety_snapshot), or None."""
        rc, out, _ = self._shadow.git("cat-file", "blob", f"{snapshot}:{path}", check=False)
        return out if rc == 0 else None

    # -- undo ---------------------------------------------------------------------------

    def undo(self) -> UndoResult:
        """Restore the files and the git state changed by the newest turn not undone yet."""
        shadow = self._shadow
        with shadow.locked():
            turn = next((t for t in shadow.turns() if not t.undone), None)
            if turn is None:
                raise CheckpointError(f"nothing to undo in {self.root}")
            before = turn.before
            changes = shadow.changes(before.tree, turn.end.tree) if turn.end else []
            # Files the turn touched that are on disk now are forced into the safety
            # snapshot, even if an ignore rule would keep them out by now.
            present = [c.path for c in changes if os.path.lexists(self.root / c.path)]
            safety = shadow.snapshot("undo-safety", before.turn, before.label, force=present,
                                     git=self._git_state)
            end = turn.end or safety  # no end: still running, or killed before its after snapshot
            if turn.end is None:
                changes = shadow.changes(before.tree, end.tree)
                if not changes and end.git == before.git:  # cut off before changing anything
                    shadow.snapshot("undo", before.turn, before.label, undoes=before.turn,
                                    git=self._git_state)
                    return self.undo()
            later = self._later_edits(end.tree, safety.tree, changes)
            restored, deleted, skipped = restore_files(self.root, changes, shadow.blobs)
            git_restored, git_skipped = self._restore_git(before, end, safety,
                                                          [c.path for c in changes])
            shadow.snapshot("undo", before.turn, before.label, undoes=before.turn,
                            git=self._git_state)
        files = tuple(c.path for c in changes)
        return UndoResult(
            checkpoint=_checkpoint(before, files, undone=True, git_changed=end.git != before.git),
            restored=restored, deleted=deleted, overwritten_later_edits=later,
            safety_snapshot=safety.sha, skipped=skipped,
            git_restored=git_restored, git_skipped=git_skipped,
        )

    def _later_edits(self, end_tree: str, now_tree: str, changes: list[Change]) -> tuple[str, ...]:
        if end_tree == now_tree:
            return ()
        touched = {c.path for c in changes}
        return tuple(c.path for c in self._shadow.changes(end_tree, now_tree) if c.path in touched)

    def _restore_git(self, before: Snapshot, end: Snapshot, now: Snapshot,
                     paths: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Put back the git state the turn changed (refs, HEAD, stash, index, info/exclude)."""
        if not before.git:  # outside a repository, or a snapshot older than git states
            self._restore_staging(before.index, paths)
            return (), ()
        load = self._states.load
        try:
            user = find_user_repo(self.root, strict=True)
        except CheckpointError as refused:  # its .git changed: put nothing back through it
            return (), (f"git state: {refused}",)
        return restore_git(self._shadow, user, load(before.git),
                           load(end.git) if end.git else GitState(), load(now.git) if now.git
                           else GitState(), paths)

    def _restore_staging(self, saved_blob: str, paths: list[str]) -> None:
        """Put the user's index entries for `paths` back as they were (older snapshots)."""
        repo = find_user_repo(self.root)
        if not saved_blob or repo is None or not paths:
            return
        saved = self._shadow.git("cat-file", "blob", saved_blob)[1]
        try:
            repo.restore_entries(saved, paths)
        except CheckpointError as err:  # the files are back; only their staging is not
            log.warning("undo: the staging of the turn's files was not restored: %s", err)

    def _git_state(self) -> str:
        """Record the user's git state in the shadow repository ("" outside a repository)."""
        repo = find_user_repo(self.root)
        if repo is None:
            self._gitlinks = frozenset()
            return ""
        blob = self._states.record(repo)
        self._gitlinks = staged_gitlinks(self._states.last_state.index, repo.prefix)
        return blob

    # -- auto-commit to the user's repository -------------------------------------------

    def commit_turn(self, checkpoint: Checkpoint, message_body: str = "") -> str | None:
        """Commit the turn's files (only those) to the user's repository.

        Anything else the user had staged stays staged and out of the commit. Returns the new
        commit's sha, or None when the workspace is not in a git repository or nothing of the
        turn is left to commit.
        """
        if checkpoint.undone:
            raise CheckpointError(f"checkpoint {checkpoint.id} was undone; there is nothing to commit")
        repo = find_user_repo(self.root, strict=True)
        if repo is None or not checkpoint.files:
            return None
        return repo.commit(checkpoint, message_body)


def _checkpoint(before: Snapshot, files: Iterable[str], undone: bool,
                git_changed: bool = False) -> Checkpoint:
    return Checkpoint(
        id=before.sha[:12], turn=before.turn,
        created=datetime.fromtimestamp(before.time, timezone.utc),
        label=before.label, files=tuple(files), undone=undone, git_changed=git_changed,
    )
