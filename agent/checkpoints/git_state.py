"""The user's git state in every snapshot: refs, HEAD, the stash, the index and info/exclude.

A snapshot names its state with a `Git` trailer: a JSON blob of the shadow repository (the
repository, HEAD, every ref, the stash's entries, the index as `ls-files --stage -z` lists
it, `info/exclude`). What the refs, HEAD and the stash point at, and the staged blobs, are
copied into the shadow repository (its `pack-objects` reads the user's objects as an
alternate and writes a pack of its own) and held, like each state, by
`refs/gemma-code/keep/<sha>`, written with the snapshot; so whatever the user's `gc` prunes
stays within an undo's reach. The user's repository is only read.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .git_reads import GitReads
from .records import CheckpointError
from .shadow import GITLINK, KEEP, ShadowRepo
from .user_repo import UserRepo

log = logging.getLogger(__name__)

STASH = "refs/stash"
# Recent kept commits offered as "already there" when copying new history: enough to cover
# the branches a session works on without walking every tip ever kept.
HAVES = 200


@dataclass(frozen=True)
class GitState:
    """What a repository's history looks like at one moment (the work tree aside)."""

    git_dir: str = ""
    common_dir: str = ""
    head: str = ""  # "ref: refs/heads/main", the commit of a detached HEAD, or ""
    refs: dict[str, str] = field(default_factory=dict)  # name -> sha, or "ref: <target>"
    stash: tuple[tuple[str, str], ...] = ()  # the stash's entries, newest first: (sha, message)
    index: bytes | None = b""  # `ls-files --stage -z`; None: the index could not be read
    exclude: bytes | None = None  # info/exclude; None: there is none
    error: str = ""  # the refs could not be read, and why

    def tips(self) -> set[str]:
        """Every object the refs, HEAD and the stash point at."""
        found = {sha for sha in self.refs.values() if not sha.startswith("ref: ")}
        found.update(sha for sha, _ in self.stash)
        if self.head and not self.head.startswith("ref: "):
            found.add(self.head)
        return found

    def to_json(self) -> bytes:
        """The state as JSON (stable: the same state gives the same bytes)."""
        data = {"git_dir": self.git_dir, "common_dir": self.common_dir, "head": self.head,
                "refs": self.refs, "stash": [list(entry) for entry in self.stash],
                "index": _text(self.index), "exclude": _text(self.exclude), "error": self.error}
        return json.dumps(data, sort_keys=True).encode()

    @staticmethod
    def from_json(data: bytes) -> GitState:
        found = json.loads(data)
        return GitState(found["git_dir"], found["common_dir"], found["head"], found["refs"],
                        tuple((sha, message) for sha, message in found["stash"]),
                        _bytes(found["index"]), _bytes(found["exclude"]), found["error"])


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "surrogateescape")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogateescape")


def read_state(user: UserRepo, reads: GitReads | None = None) -> GitState:
    """The user's repository as it is now; never raises for a repository git cannot read.

    `reads` keeps the index listing and the refs from one state to the next while their
    files stay as they were (`git_reads`); without it git is asked for both.
    """
    reads = reads or GitReads()
    layout = user.host.layout
    git_dir, common_dir = str(layout.git_dir), str(layout.common_dir)
    exclude = _read_file(layout.common_dir / "info" / "exclude")
    index = reads.index.output(user)
    # HEAD and the stash's reflog are read as files where git keeps them as files (a git
    # process less for each); anything else (reftable, a link, odd content) asks git.
    files = not (layout.common_dir / "reftable").exists()
    try:
        refs = _refs(user, reads)
        head = (files and _head_file(layout.git_dir)) or _head(user)
        stash = (_stash_file(layout.common_dir) if files else None) if STASH in refs else ()
        stash = _stash(user) if stash is None else stash
    except CheckpointError as exc:
        log.warning("checkpoint: the repository's refs could not be read: %s", exc)
        return GitState(git_dir, common_dir, index=index, exclude=exclude, error=str(exc))
    refs.pop(STASH, None)
    return GitState(git_dir, common_dir, head, refs, stash, index, exclude)


def _refs(user: UserRepo, reads: GitReads) -> dict[str, str]:
    out = reads.refs.output(user, check=True)
    refs = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, name, symref = line.split("\0")
        refs[name] = f"ref: {symref}" if symref else sha
    return refs


def _head(user: UserRepo) -> str:
    rc, out, _ = user.git("rev-parse", "HEAD", "--symbolic-full-name", "HEAD", check=False)
    lines = out.decode("utf-8", "surrogateescape").split()  # its commit, then what it names
    if rc == 0 and len(lines) == 2:
        return lines[0] if lines[1] == "HEAD" else f"ref: {lines[1]}"
    rc, out, _ = user.git("symbolic-ref", "-q", "HEAD", check=False)  # a branch with no commit yet
    return f"ref: {out.decode('utf-8', 'surrogateescape').strip()}" if rc == 0 else ""


def _head_file(git_dir: Path) -> str:
    text = (_read_file(git_dir / "HEAD") or b"").decode("ascii", "replace").strip()
    if text.startswith("ref: refs/") and " " not in text[5:]:
        return text
    return text if len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text) else ""


def _stash_file(common_dir: Path) -> tuple[tuple[str, str], ...] | None:
    """The stash's reflog from its file, newest first; None when that cannot be read."""
    data = _read_file(common_dir / "logs" / STASH)
    if data is None:
        return None
    entries = []
    for line in data.splitlines():
        head, tab, message = line.partition(b"\t")
        parts = head.split(b" ", 2)
        if not tab or len(parts) < 3:
            return None
        entries.append((parts[1].decode("ascii", "replace"),
                        message.decode("utf-8", "surrogateescape")))
    return tuple(reversed(entries))


def _stash(user: UserRepo) -> tuple[tuple[str, str], ...]:
    # A stash entry whose commit is gone ends the listing there: what is left is recorded.
    out = user.git("log", "-g", "--format=%H%x00%gs", STASH, check=False)[1]
    entries = (line.split("\0", 1) for line in out.decode("utf-8", "surrogateescape").splitlines())
    return tuple((sha, message) for sha, message in entries)


def _read_file(path: Path) -> bytes | None:
    """A regular file's bytes (not through a link), or None."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def index_records(listing: bytes | None) -> dict[str, list[bytes]]:
    """The records of `ls-files --stage -z` ("mode sha stage\\tpath"), grouped by path."""
    records: dict[str, list[bytes]] = {}
    for record in (listing or b"").split(b"\0"):
        if b"\t" in record:
            records.setdefault(os.fsdecode(record.split(b"\t", 1)[1]), []).append(record)
    return records


def index_blobs(listing: bytes | None) -> set[str]:
    """The blobs a listing's entries point at (submodule commits left out)."""
    blobs = set()
    for records in index_records(listing).values():
        for record in records:
            mode, sha = record.split(b" ", 2)[:2]
            if int(mode, 8) != GITLINK:
                blobs.add(sha.decode())
    return blobs


class StateStore:
    """Records git states in the shadow repository, and reads them back."""

    def __init__(self, shadow: ShadowRepo) -> None:
        self.shadow = shadow
        self._kept: list[str] | None = None  # kept objects, commits newest first
        self._kept_set: set[str] = set()
        self._blobs: set[str] = set()  # the staged blobs of the last state, all in the shadow
        self._last: tuple[GitState, str] | None = None  # the last state recorded, and its blob
        self._reads = GitReads()
        self.last_state: GitState | None = None  # the state the last `record` read

    def record(self, user: UserRepo) -> str:
        """Record the repository's state now; the blob that holds it (kept with the snapshot)."""
        state = self.last_state = read_state(user, self._reads)
        if self._last is not None and self._last[0] == state:
            return self._last[1]
        data = state.to_json()
        self._copy(user, state)
        blob = self.shadow.git("hash-object", "-w", "--stdin", data=data)[1].decode().strip()
        self._keep([blob])
        self._last = (state, blob)
        return blob

    def load(self, blob: str) -> GitState:
        """The state a `record` stored in `blob`."""
        return GitState.from_json(self.shadow.git("cat-file", "blob", blob)[1])

    def _copy(self, user: UserRepo, state: GitState) -> None:
        """Copy what the refs reach and what is staged into the shadow repository; keep it."""
        kept = self._kept_objects()
        tips = state.tips() - self._kept_set
        staged = index_blobs(state.index)
        wanted = tips | (staged - self._blobs)
        missing = set(self.shadow.missing(wanted)) if wanted else set()
        if missing:
            haves = sorted({*(state.tips() & self._kept_set), *kept[:HAVES]})
            try:
                self._pack(user, [*missing, *(f"^{sha}" for sha in haves)])
            except CheckpointError:  # e.g. a have whose history is broken: copy it all
                try:
                    self._pack(user, sorted(missing))
                except CheckpointError as err:
                    log.warning("checkpoint: the repository's objects were not copied: %s", err)
            still = set(self.shadow.missing(missing))
            if still:
                log.warning("checkpoint: %d objects of the repository could not be copied",
                            len(still))
            copied = sorted((missing - still) - tips)
            if copied:  # staged blobs that no snapshot holds: held by a tree of their own
                entries = "".join(f"100644 blob {sha}\t{sha}\n" for sha in copied).encode()
                self._keep([self.shadow.git("mktree", data=entries)[1].decode().strip()])
            missing = still
        self._keep(sorted(tips - missing))
        self._blobs = staged - missing

    def _pack(self, user: UserRepo, lines: list[str]) -> None:
        """Pack what `lines` (revisions) reach from the user's objects into the shadow's."""
        copy_objects(self.shadow, user.host.layout.common_dir / "objects",
                     self.shadow.git_dir / "objects", lines)

    def _kept_objects(self) -> list[str]:
        if self._kept is None:
            out = self.shadow.git("for-each-ref", "--sort=-committerdate",
                                  "--format=%(objectname)", KEEP)[1]
            self._kept = out.decode().split()
            self._kept_set = set(self._kept)
        return self._kept

    def _keep(self, shas: list[str]) -> None:
        """Hold `shas` by refs, written with the snapshot that records them."""
        shas = [sha for sha in shas if sha not in self._kept_set]
        if not shas:
            return
        self.shadow.pending_keeps.extend(shas)
        self._kept_objects()
        self._kept[:0] = shas
        self._kept_set.update(shas)


def copy_objects(shadow: ShadowRepo, source: Path, target: Path, lines: list[str]) -> None:
    """Write a pack of what `lines` (revisions) reach into the object folder `target`, reading
    `source` too. Git runs with the shadow repository's settings: the user's config is never read.
    """
    env = {"GIT_OBJECT_DIRECTORY": str(target), "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(source)}
    shadow.git("pack-objects", "-q", "--revs", "--missing=allow-any", str(target / "pack" / "pack"),
               data="".join(f"{line}\n" for line in lines).encode(), extra_env=env)


def user_missing(user: UserRepo, shas: set[str]) -> list[str]:
    """The objects of `shas` the user's repository does not have."""
    if not shas:
        return []
    out = user.git("cat-file", "--batch-check=%(objectname)", data=_lines(shas))[1]
    return [line.split()[0] for line in out.decode().splitlines() if line.endswith(" missing")]


def _lines(shas: set[str] | list[str]) -> bytes:
    return "".join(f"{sha}\n" for sha in sorted(shas)).encode()
