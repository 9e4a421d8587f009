"""The user's own git repository: its index (read around turns, put back by undo) and auto-commit.

Snapshots only read it; its config and hooks are never written. Undo puts back the refs,
stash and staged entries a turn changed (`git_restore`, through `UserRepo.git`). Only the
optional auto-commit commits in it. Git runs here
through `host_git`: pinned to the repository found when the session started, with settings
under which it runs no program (no hooks, fsmonitor or filters), auto-commit included.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..host_git import GitRefused, HostRepo, host_repo
from .git_env import git_error, nul_join
from .records import Checkpoint, CheckpointError, shorten

log = logging.getLogger(__name__)

FALLBACK_AUTHOR = {"name": "gemma-code", "email": "gemma-code@localhost"}
SUBJECT_LABEL_CHARS = 60


def find_user_repo(root: Path, strict: bool = False) -> UserRepo | None:
    """The repository with a work tree that holds `root` (pinned at session start), or None.

    A repository that gemma-code no longer trusts (it appeared, or its `.git` changed) is
    None too, with a warning; `strict` raises CheckpointError with the reason instead.
    """
    host = host_repo(root)
    try:
        layout = host.verify()
    except GitRefused as err:
        if strict:
            raise CheckpointError(str(err)) from None
        log.warning("%s", err)
        return None
    return UserRepo(host, Path(root).resolve()) if layout is not None else None


class UserRepo:
    """The user's repository, seen from the workspace `root` (its top or a folder in it)."""

    EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

    def __init__(self, host: HostRepo, root: Path) -> None:
        self.host = host
        self.top = host.layout.top.resolve()
        self.prefix = root.relative_to(self.top).as_posix()

    def git(self, *args: str, data: bytes | None = None, check: bool = True,
            extra_env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
        try:
            rc, out, err = self.host.git(*args, data=data, extra_env=extra_env)
        except GitRefused as exc:
            raise CheckpointError(str(exc)) from None
        if check and rc != 0:
            raise git_error(args, err)
        return rc, out, err

    def _has_head(self) -> bool:
        return self.git("rev-parse", "--quiet", "--verify", "HEAD^{commit}", check=False)[0] == 0

    def staged_entries(self) -> bytes:
        """The index as `ls-files --stage -z` lists it."""
        return self.git("ls-files", "--stage", "-z")[1]

    def commit(self, checkpoint: Checkpoint, body: str) -> str | None:
        """Commit the checkpoint's files (only those); the new commit's sha, or None."""
        try:
            why = self.host.changed_since_pinned()
        except GitRefused as exc:
            why = str(exc)
        if why:
            raise CheckpointError(f"auto-commit refused: {why}")
        tracked = self._tracked()
        paths = self._committable([self._repo_path(f) for f in checkpoint.files], tracked)
        if not paths:
            return None
        self._refuse_filtered(paths)
        new = [p for p in paths if p not in tracked]
        if new:  # intent-to-add, so that `commit --only` takes them (and diff counts them)
            self.git("add", "--intent-to-add", "--pathspec-from-file=-", "--pathspec-file-nul",
                     data=nul_join(new))
        counts = self._numstat(set(paths))
        if not counts:
            self._forget(new)
            return None
        message = _commit_message(checkpoint.label, body, counts)
        # Hooks off (--no-verify, and host_git's empty hooks path): a hook, or the linter
        # config it reads, may be a file the agent wrote, and would run outside the sandbox.
        rc, _, err = self.git(
            "commit", "--only", "--no-verify", "--quiet", "--cleanup=whitespace", "-m", message,
            "--pathspec-from-file=-", "--pathspec-file-nul",
            data=nul_join(paths), check=False, extra_env=self._identity_env(),
        )
        if rc != 0:
            self._forget(new)
            raise CheckpointError(f"auto-commit failed; the turn's changes are left uncommitted:\n{err.strip()}")
        return self.git("rev-parse", "HEAD")[1].decode().strip()

    def restore_entries(self, saved: bytes, paths: list[str]) -> None:
        """Make the index entries of `paths` what they were in `saved` (`ls-files -s -z`)."""
        wanted = {self._repo_path(p) for p in paths}
        before, now = _stage_entries(saved, wanted), _stage_entries(self.staged_entries(), wanted)
        lines = [before[path] for path in wanted if path in before and before[path] != now.get(path)]
        lines += [os.fsencode(f"0 {'0' * 40}\t{path}") for path in wanted
                  if path in now and path not in before]
        if lines:
            self.git("update-index", "-z", "--index-info", data=b"".join(l + b"\0" for l in lines))

    def _repo_path(self, workspace_path: str) -> str:
        return f"{self.prefix}/{workspace_path}" if self.prefix not in ("", ".") else workspace_path

    def _tracked(self) -> set[str]:
        names = self.git("ls-files", "-z", "--cached")[1].split(b"\0")
        if self._has_head():
            names += self.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD")[1].split(b"\0")
        return {os.fsdecode(n) for n in names if n}

    def _committable(self, paths: list[str], tracked: set[str]) -> list[str]:
        """The paths git knows, plus new files that no ignore rule keeps out."""
        untracked = [p for p in paths if p not in tracked and os.path.lexists(self.top / p)]
        ignored: set[str] = set()
        if untracked:
            # check-ignore takes plain names and refuses the literal pathspec setting.
            rc, out, err = self.git("check-ignore", "-z", "--stdin", data=nul_join(untracked),
                                    check=False, extra_env={"GIT_LITERAL_PATHSPECS": "0"})
            if rc not in (0, 1):
                raise git_error(("check-ignore",), err)
            ignored = {os.fsdecode(n) for n in out.split(b"\0") if n}
        return [p for p in paths if p in tracked or (p in untracked and p not in ignored)]

    def _refuse_filtered(self, paths: list[str]) -> None:
        """CheckpointError when a path has a clean/smudge filter (git-lfs, say): not run here."""
        out = self.git("check-attr", "-z", "--stdin", "filter", data=nul_join(paths),
                       extra_env={"GIT_LITERAL_PATHSPECS": "0"})[1].split(b"\0")
        filtered = [os.fsdecode(path) for path, _, value in zip(out[0::3], out[1::3], out[2::3])
                    if value not in (b"unspecified", b"unset")]
        if filtered:
            raise CheckpointError(
                f"auto-commit refused: {', '.join(filtered)} use a git filter (.gitattributes), "
                "which gemma-code does not run; commit them yourself")

    def _numstat(self, paths: set[str]) -> dict[str, tuple[str, str]]:
        base = "HEAD" if self._has_head() else self.EMPTY_TREE
        out = self.git("diff", "--numstat", "-z", "--no-renames", base)[1]
        counts = {}
        for record in out.split(b"\0"):
            if record:
                added, removed, name = record.decode(errors="surrogateescape").split("\t", 2)
                if name in paths:
                    counts[name] = (added, removed)
        return counts

    def _forget(self, new: list[str]) -> None:
        if new:  # update-index reads no work-tree file (rm --cached may hash one)
            self.git("update-index", "-z", "--force-remove", "--stdin", data=nul_join(new),
                     check=False)

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


def _commit_message(label: str, body: str, counts: dict[str, tuple[str, str]]) -> str:
    subject = f"gemma-code: {shorten(label, SUBJECT_LABEL_CHARS) or 'changes'}"
    lines = [
        f"  {name} ({'binary' if added == '-' else f'+{added} -{removed}'})"
        for name, (added, removed) in sorted(counts.items())
    ]
    parts = [subject, body.strip(), "Files:\n" + "\n".join(lines)]
    return "\n\n".join(p for p in parts if p) + "\n"


def _stage_entries(listing: bytes, paths: set[str]) -> dict[str, bytes]:
    """`ls-files --stage -z` records ("mode sha stage\tpath") of `paths`, by path."""
    entries = {}
    for record in listing.split(b"\0"):
        if b"\t" in record:
            path = os.fsdecode(record.split(b"\t", 1)[1])
            if path in paths:
                entries[path] = record
    return entries
