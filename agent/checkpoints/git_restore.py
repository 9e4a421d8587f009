"""Putting the user's git state back as it was before a turn: refs, HEAD, stash, index, exclude.

Only what the turn changed (what differs between its state before and at its end) is put
back, and only where it is not so already: a ref, stash entry or staged entry the user
changed after the turn, and the turn did not, stays. Objects the repository no longer has
(pruned by a `gc`) are brought back from the shadow repository first, so that every ref and
index entry put back points at an object that is there.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from gemma_code.tools.textfile import atomic_write

from .git_state import STASH, GitState, copy_objects, index_records, user_missing
from .records import CheckpointError
from .shadow import GITLINK, ShadowRepo
from .user_repo import UserRepo

log = logging.getLogger(__name__)

ZERO = "0" * 40
_PER_WORKTREE = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")


@dataclass
class _Plan:
    refs: dict[str, str | None] = field(default_factory=dict)  # name -> value, None: delete
    head: str = ""
    stash: list[tuple[str, str]] | None = None
    index: list[bytes] = field(default_factory=list)  # `update-index --index-info` records
    rebuild_index: bool = False
    exclude: bool = False


def restore_git(shadow: ShadowRepo, user: UserRepo | None, before: GitState, end: GitState,
                now: GitState, paths: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Put back what the turn changed; (what was restored, what could not be), for people.

    `end` is the state when the turn ended, `now` the state before this undo, `paths` the
    workspace files the turn changed (their staging is put back too).
    """
    if user is None or str(user.host.layout.git_dir) != before.git_dir:
        return (), (f"git state: the repository at {before.git_dir} is not there any more",)
    plan = _plan(before, end, now, [_repo_path(user, p) for p in paths])
    restored: list[str] = []
    skipped = [f"refs, HEAD and the stash: they could not be read ({state.error})"
               for state in (before, end, now) if state.error][:1]
    steps = [
        ("objects", lambda: _bring_objects(shadow, user, _needed(plan, now), now)),
        ("refs", lambda: _restore_refs(user, plan.refs, _later(plan.refs, end, now))),
        ("HEAD", lambda: _restore_head(user, plan.head)),
        ("the stash", lambda: _restore_stash(user, plan.stash)),
        ("the index", lambda: _restore_index(user, plan)),
        ("info/exclude", lambda: _restore_exclude(user, before.exclude) if plan.exclude else ""),
    ]
    for what, step in steps:
        try:
            done = step()
        except (CheckpointError, OSError) as err:
            log.warning("undo: %s could not be restored: %s", what, err)
            skipped.append(f"{what}: {err}")
            if what == "objects":  # nothing may point at what is not there
                skipped.append("refs, HEAD, the stash and the index: left as they are")
                break
        else:
            if done:
                restored.append(done)
    return tuple(restored), tuple(skipped)


def _refuse_links(user: UserRepo, refs: list[str] | None = None, index: bool = False) -> None:
    """Refuse to write where a symbolic link stands: git's lock files follow them, so a link
    planted in `.git` (a ref, its log, packed-refs, the index) would be written through."""
    layout = user.host.layout
    paths = [layout.common_dir / "packed-refs"] if refs else []
    for name in refs or ():
        per_worktree = name == "HEAD" or name.startswith(_PER_WORKTREE)
        base = layout.git_dir if per_worktree else layout.common_dir
        paths += [base / name, base / "logs" / name]
    if index:
        paths.append(layout.git_dir / "index")
    for path in paths:
        base = layout.git_dir if path.is_relative_to(layout.git_dir) else layout.common_dir
        for depth in range(len(path.relative_to(base).parts)):
            current = base.joinpath(*path.relative_to(base).parts[:depth + 1])
            if current.is_symlink():
                raise CheckpointError(f"{current} is a symbolic link: not written through")


def _repo_path(user: UserRepo, workspace_path: str) -> str:
    return workspace_path if user.prefix in ("", ".") else f"{user.prefix}/{workspace_path}"


def _plan(before: GitState, end: GitState, now: GitState, paths: list[str]) -> _Plan:
    plan = _Plan()
    if not (before.error or end.error or now.error):
        for name in sorted(before.refs.keys() | end.refs.keys()):
            old = before.refs.get(name)
            if old != end.refs.get(name) and old != now.refs.get(name):
                plan.refs[name] = old
        if before.head != end.head and before.head != now.head and before.head:
            plan.head = before.head
        if before.stash != end.stash:
            later = [e for e in now.stash if e not in end.stash and e not in before.stash]
            wanted = later + list(before.stash)
            plan.stash = wanted if wanted != list(now.stash) else None
    if before.index is not None:
        old, ended = index_records(before.index), index_records(end.index)
        plan.rebuild_index = now.index is None
        current = {} if plan.rebuild_index else index_records(now.index)
        changed = {p for p in old.keys() | ended.keys() if old.get(p) != ended.get(p)}
        wanted = set(old) if plan.rebuild_index else changed | set(paths)
        for path in sorted(wanted):
            if old.get(path) == current.get(path):
                continue
            if path in current:
                plan.index.append(os.fsencode(f"0 {ZERO}\t{path}"))
            plan.index.extend(old.get(path, []))
    plan.exclude = before.exclude != end.exclude and before.exclude != now.exclude
    return plan


def _needed(plan: _Plan, now: GitState) -> set[str]:
    """The objects the plan points refs and index entries at."""
    needed = {v for v in plan.refs.values() if v and not v.startswith("ref: ")}
    if plan.head and not plan.head.startswith("ref: "):
        needed.add(plan.head)
    needed.update(entry[0] for entry in plan.stash or () if entry not in now.stash)
    for record in plan.index:
        mode, sha = record.split(b" ", 2)[:2]
        if int(mode, 8) not in (0, GITLINK):
            needed.add(sha.decode())
    return needed


def _bring_objects(shadow: ShadowRepo, user: UserRepo, needed: set[str], now: GitState) -> str:
    missing = user_missing(user, needed)
    if not missing:
        return ""
    objects = user.host.layout.common_dir / "objects"
    pack = objects / "pack"
    if objects.is_symlink() or pack.is_symlink() or not pack.is_dir():
        raise CheckpointError(f"{objects} is not the repository's object folder")
    source = shadow.git_dir / "objects"
    haves = now.tips() - set(user_missing(user, now.tips()))
    try:
        copy_objects(shadow, source, objects, [*missing, *(f"^{sha}" for sha in sorted(haves))])
    except CheckpointError:  # a have whose history is broken: send everything
        copy_objects(shadow, source, objects, missing)
    still = user_missing(user, set(missing))
    if still:
        raise CheckpointError(f"{len(still)} of {len(missing)} objects could not be brought back")
    return f"{len(missing)} pruned objects brought back with their history"


def _later(refs: dict[str, str | None], end: GitState, now: GitState) -> dict[str, str]:
    """The refs to put back that moved after the turn too: where they were before this undo."""
    return {name: now.refs.get(name) or "nothing" for name in refs
            if now.refs.get(name) != end.refs.get(name)}


def _restore_refs(user: UserRepo, refs: dict[str, str | None], later: dict[str, str]) -> str:
    if not refs:
        return ""
    _refuse_links(user, list(refs))
    deletes = [f"option no-deref\ndelete {name}\n" for name, value in refs.items() if value is None]
    updates = [f"option no-deref\nupdate {name} {value}\n" for name, value in refs.items()
               if value and not value.startswith("ref: ")]
    _transaction(user, deletes)
    _transaction(user, updates)
    for name, value in refs.items():
        if value and value.startswith("ref: "):
            user.git("symbolic-ref", name, value.removeprefix("ref: "))
    return ", ".join(f"{name} (it moved after the turn too, from {later[name][:12]})"
                     if name in later else name for name in refs)


def _transaction(user: UserRepo, commands: list[str]) -> None:
    if not commands:
        return
    rc, _, err = user.git("update-ref", "--stdin", data="".join(commands).encode(), check=False)
    if rc == 0:
        return
    failed = []
    for command in commands:  # one at a time, so that one bad ref does not hold back the rest
        if user.git("update-ref", "--stdin", data=command.encode(), check=False)[0] != 0:
            failed.append(command.split()[-1] if "delete" in command else command.split()[-2])
    if failed:
        raise CheckpointError(f"{', '.join(failed)} could not be set: {err.strip()}")


def _restore_head(user: UserRepo, head: str) -> str:
    if not head:
        return ""
    _refuse_links(user, ["HEAD"])
    if head.startswith("ref: "):
        user.git("symbolic-ref", "HEAD", head.removeprefix("ref: "))
    else:
        user.git("update-ref", "--no-deref", "HEAD", head)
    return f"HEAD ({head.removeprefix('ref: ')})"


def _restore_stash(user: UserRepo, entries: list[tuple[str, str]] | None) -> str:
    if entries is None:
        return ""
    _refuse_links(user, [STASH])
    # Deleted with its reflog even when that is empty (expired), then written entry by entry.
    user.git("update-ref", "--no-deref", "-d", STASH, check=False)
    for sha, message in reversed(entries):  # oldest first: the reflog lists the newest on top
        user.git("update-ref", "--create-reflog", "-m", message, STASH, sha)
    return f"the stash ({len(entries)} entries)"


def _restore_index(user: UserRepo, plan: _Plan) -> str:
    if not plan.index and not plan.rebuild_index:
        return ""
    _refuse_links(user, index=True)
    if plan.rebuild_index:  # unreadable: written anew from the saved entries
        (user.host.layout.git_dir / "index").unlink(missing_ok=True)
    user.git("update-index", "-z", "--index-info", data=b"".join(r + b"\0" for r in plan.index))
    paths = {r.split(b"\t", 1)[1] for r in plan.index}
    return f"the index ({len(paths)} paths)"


def _restore_exclude(user: UserRepo, content: bytes | None) -> str:
    info = user.host.layout.common_dir / "info"
    if info.is_symlink() or (info.exists() and not info.is_dir()):
        raise CheckpointError(f"{info} is not a folder")
    exclude = info / "exclude"
    if content is None:
        exclude.unlink(missing_ok=True)
    else:
        info.mkdir(exist_ok=True)
        atomic_write(exclude, content)
    return "info/exclude"
