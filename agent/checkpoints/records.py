"""What checkpoints report: a turn's checkpoint, what an undo did, and the error they raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

LABEL_CHARS = 72


class CheckpointError(Exception):
    """A snapshot or an undo could not be done; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    """One agent turn that changed (or, if it never finished, may have changed) files."""

    id: str  # short sha of the before-turn snapshot
    turn: str
    created: datetime
    label: str  # the user's prompt, first line, shortened
    files: tuple[str, ...]  # workspace-relative posix paths the turn changed; () if unknown yet
    undone: bool
    git_changed: bool = False  # the turn changed refs, HEAD, the stash, the index or info/exclude

    def as_json(self) -> dict:
        return {"id": self.id, "turn": self.turn, "created": self.created.isoformat(),
                "label": self.label, "files": list(self.files), "undone": self.undone,
                "git_changed": self.git_changed}


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
    git_restored: tuple[str, ...] = ()  # refs, HEAD, stash, index, info/exclude put back
    git_skipped: tuple[str, ...] = ()  # git state that could not be put back, and why


def undo_summary(result: UndoResult) -> str:
    """What an undo did, for people."""
    lines = [f"undid the turn \"{result.checkpoint.label}\" (checkpoint {result.checkpoint.id})"]
    for title, paths in (("restored", result.restored), ("removed", result.deleted),
                         ("could not restore", result.skipped),
                         ("restored git state", result.git_restored),
                         ("could not restore git state", result.git_skipped)):
        if paths:
            lines.append(f"  {title}: {', '.join(paths)}")
    if result.overwritten_later_edits:
        lines.append(f"  changed after the turn too: {', '.join(result.overwritten_later_edits)} "
                     "(those later edits are undone as well)")
    lines.extend(_redo_hint(result))
    return "\n".join(lines)


def _redo_hint(result: UndoResult) -> list[str]:
    """How to get a file back as it was just before the undo, from its safety snapshot."""
    replaced = (*result.overwritten_later_edits, *result.restored, *result.deleted)
    if not result.safety_snapshot or not replaced:
        return []
    snapshot, example = result.safety_snapshot[:12], replaced[0]
    return [f"  the files as they were before this undo are kept in snapshot {snapshot}; to get "
            f"one back: gemma-code undo --show {snapshot}:{example} > {example}"]


def turn_label(prompt: str) -> str:
    """A checkpoint's label: the prompt's first non-blank line, shortened."""
    return shorten(_first_line(prompt), LABEL_CHARS)


def shorten(text: str, limit: int) -> str:
    """`text` without unprintable characters, cut to `limit` characters with an ellipsis."""
    text = "".join(ch for ch in text if ch.isprintable())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""
