"""read_file, and what the file tools share (`edits.py` holds write_file and edit_file).
Every path goes through the workspace."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.protocols import ToolContext, ToolError, ToolResult

from .textfile import (
    TextFile,
    binary_refusal,
    cap_text,
    count_remaining_lines,
    decode_text,
    iter_raw_lines,
    sniff_binary,
)

MAX_READ_LINES = 2000
MAX_READ_BYTES = 100_000
MAX_LINE_CHARS = 2000
DIFF_LINES_SHOWN = 200
DIFF_CHARS_SHOWN = 12_000


def existing_file(
    ctx: ToolContext, path: str, action: str, *, write: bool = False, missing_hint: str = ""
) -> Path:
    """The resolved path of an existing regular file, or a ToolError that says what to do."""
    resolved = ctx.workspace.resolve(path, write=write)
    shown = ctx.workspace.relative(resolved)
    if resolved.is_dir():
        raise ToolError(f"{shown} is a directory, not a file; use list_files to see what is in it.")
    if not resolved.exists():
        raise ToolError(f"file not found: {shown}{_did_you_mean(resolved)}{missing_hint}",
                        "path_not_found")
    if not resolved.is_file():
        raise ToolError(f"{shown} is not a regular file; {action} only works on regular files.")
    return resolved


@contextmanager
def _permission(shown: str, doing: str) -> Iterator[None]:
    """Turn a permission error into a ToolError the model can act on (pick another file)."""
    try:
        yield
    except PermissionError:
        raise ToolError(f"permission denied {doing} {shown}.") from None


def _did_you_mean(path: Path) -> str:
    parent = path.parent
    if not parent.is_dir():
        return " (its directory does not exist either; use list_files to look around)"
    try:
        names = [p.name for p in parent.iterdir()]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    return (
        f" (did you mean: {', '.join(close)}?)"
        if close
        else " (use list_files to find the right path)"
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remember_seen(ctx: ToolContext, path: Path, data: bytes | None = None) -> None:
    """Note the file as the agent now knows it (after a read or its own write)."""
    if data is None:
        with path.open("rb") as f:
            ctx.seen[path] = hashlib.file_digest(f, "sha256").hexdigest()
    else:
        ctx.seen[path] = _digest(data)


def _check_unchanged(ctx: ToolContext, path: Path, shown: str, current: bytes | None) -> None:
    """Refuse to change a file that changed on disk since the agent last read it."""
    seen = ctx.seen.get(path)
    if seen is None or (current is not None and _digest(current) == seen):
        return
    if current is None:
        del ctx.seen[path]  # told once; writing it again after this is a deliberate choice
        raise ToolError(
            f"{shown} was deleted since you last read it (by the user, another program or one "
            "of your commands). Check whether it should still exist before writing it again."
        )
    raise ToolError(
        f"{shown} changed on disk since you last read it (by the user, another program or one "
        "of your commands), so your change could undo theirs. Read it again with read_file, "
        "then make your change on the current text."
    )


def _read_utf8(path: Path, shown: str, action: str) -> tuple[bytes, TextFile]:
    """A whole UTF-8 file for editing, raw and decoded; binaries and other encodings are refused."""
    with _permission(shown, "reading"):
        if sniff_binary(path):
            raise binary_refusal(path, shown, action)
        data = path.read_bytes()
    try:
        return data, decode_text(data)
    except UnicodeDecodeError as exc:
        raise ToolError(
            f"{shown} is not valid UTF-8 (bad byte at offset {exc.start}); {action} only changes "
            "UTF-8 files so it cannot corrupt others. Convert it first with run_shell "
            "(for example iconv -f latin1 -t utf-8), or rewrite it whole with write_file."
        ) from None


def _diff_text(diff: str) -> str:
    return cap_text(diff, DIFF_LINES_SHOWN, DIFF_CHARS_SHOWN, "diff")


class ReadFile:
    """Read a text file with numbered lines, a window at a time."""

    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = (
        "Read a text file. Returns numbered lines (up to 2000 at a time). "
        "Use offset and limit to read a part of a long file. Use this before editing a file."
    )
    mutating: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="Path of the file, relative to the workspace root.")
        offset: int = Field(default=1, ge=1, description="First line to read, 1-based.")
        limit: int = Field(
            default=MAX_READ_LINES, ge=1, description="How many lines to read (at most 2000)."
        )

    def __call__(self, args: ReadFile.Args, ctx: ToolContext) -> ToolResult:
        path = existing_file(ctx, args.path, "read_file")
        shown = ctx.workspace.relative(path)
        with _permission(shown, "reading"):
            if sniff_binary(path):
                raise binary_refusal(path, shown, "read_file")
            with path.open("rb") as f:
                window = _read_window(f, args.offset, min(args.limit, MAX_READ_LINES))
                total = window.last_line + count_remaining_lines(f)
            _remember_seen(ctx, path)
        return _window_result(window, shown, args.offset, total)


class _Window:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.last_line = 0  # number of the last line consumed from the file
        self.size = 0
        self.not_utf8 = False


def _read_window(f, offset: int, limit: int) -> _Window:
    """Stream lines and keep `limit` of them from `offset`, within the byte cap."""
    window = _Window()
    max_bytes = MAX_LINE_CHARS * 4
    for raw, skipped in iter_raw_lines(f, max_bytes):
        if window.last_line + 1 < offset:
            window.last_line += 1
            continue
        text = _decode_line(raw, window)
        extra = skipped + max(0, len(text) - MAX_LINE_CHARS)
        if extra:
            text = text[:MAX_LINE_CHARS] + f" [... line truncated, {extra} more bytes]"
        entry = f"{window.last_line + 1:6d}\t{text}"
        if window.lines and window.size + len(entry) + 1 > MAX_READ_BYTES:
            break
        window.lines.append(entry)
        window.size += len(entry) + 1
        window.last_line += 1
        if len(window.lines) >= limit:
            break
    return window


def _decode_line(raw: bytes, window: _Window) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        window.not_utf8 = True
        return raw.decode("utf-8", errors="replace")


def _window_result(window: _Window, shown: str, offset: int, total: int) -> ToolResult:
    if total == 0:
        return ToolResult.text(f"{shown} is empty (0 lines).", summary=f"read {shown}: empty")
    if not window.lines:
        raise ToolError(
            f"offset {offset} is past the end of {shown}, which has {total} lines; "
            f"use an offset between 1 and {total}."
        )
    parts = []
    if window.not_utf8:
        parts.append(
            f"[note: {shown} is not valid UTF-8; undecodable bytes are shown as \ufffd. "
            "edit_file will refuse it.]"
        )
    parts.extend(window.lines)
    remaining = total - window.last_line
    if remaining > 0:
        next_offset = window.last_line + 1
        parts.append(
            f"... {remaining} more lines; call read_file with offset={next_offset} to read more"
        )
    summary = f"read {shown} lines {offset}-{window.last_line} of {total}"
    return ToolResult.text("\n".join(parts) + "\n", summary=summary)
