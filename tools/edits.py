"""write_file and edit_file, and the edit rules that keep a small model's edits on track.

With `ctx.edit_guards` on (the `edit_guards` setting): an existing file the model has not read
(`ctx.seen`) is not changed: the error shows it, and that counts as a read; a second failed
edit of one file in a turn shows the whole file and asks for write_file. Failed edits always
show the file's lines at the place meant. With `ctx.syntax_guard` on, a change that breaks
the syntax of a file that parsed is refused (`syntax.py`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.protocols import ToolContext, ToolError, ToolResult
from gemma_code.agent.safety.secrets import secret_reason

from .files import (
    ReadFile,
    _check_unchanged,
    _diff_text,
    _permission,
    _read_utf8,
    _remember_seen,
    existing_file,
)
from .matching import (
    MAX_SIMILARITY_WORK, Edit, _closest_window, _key, find_edit, without_line_numbers,
    without_wrapper,
)
from .elision import require_complete
from .readings import block_rewrite, keeps_parsing, parsing_reading
from .syntax import numbered_lines, require_valid_syntax
from .textfile import TextFile, atomic_write, decode_text, diff_stats, unified_diff

# Failed edits that count towards the whole-file escalation, and how it names them.
_FAILURES = {
    "edit_old_not_found": "`old` was not found",
    "edit_old_equals_new": "`old` and `new` are the same",
    "edit_already_made": "the edit was already made",
    "syntax": "the change would break the file's syntax",
    "elided": "the content left code out",
    "other": "the edit could not be applied",
}


# Files that can hold gemma-code's own settings: the approval rules ask for every edit of them
# by the path a call names (agent.config_guard), so an edit is never moved into one.
_SETTINGS_FILES = (".gemma-code.toml", "pyproject.toml")


def _block(old: str) -> bool:
    """Whether `old` is two lines or more: a single line (`debug = False`) found in another
    file says little about which file the model meant, a block of them does."""
    return sum(1 for line in old.splitlines() if line.strip()) >= 2


def _listing(ctx: ToolContext, path: Path) -> str | None:
    """The file as read_file shows it (numbered lines), recorded as read; None for a file
    read_file refuses (binary, unreadable)."""
    try:
        result = ReadFile()(ReadFile.Args(path=ctx.workspace.relative(path)), ctx)
    except (ToolError, OSError):
        return None
    return "".join(part.text for part in result.content if part.type == "text")


def require_read(ctx: ToolContext, path: Path, shown: str, change: str) -> None:
    """Refuse to change an existing file the model has not read; the error shows it."""
    if not ctx.edit_guards or path in ctx.seen or not path.is_file():
        return
    if secret_reason(path, named=shown) is not None:  # shown only through read_file's approval
        raise ToolError(f"you had not read {shown}: read it with read_file first, then make "
                        f"the {change}.", "unread_file")
    listing = _listing(ctx, path)
    if listing is not None:
        raise ToolError(f"you had not read {shown}: here it is; make the {change} now.\n"
                        f"{listing}", "unread_file")


def _escalate(ctx: ToolContext, path: Path, shown: str, exc: ToolError) -> ToolError:
    """The error for a failed edit: the whole file from the second failure of a turn on."""
    if not ctx.edit_guards or exc.kind not in _FAILURES:
        return exc
    ctx.edit_failures[path] = failures = ctx.edit_failures.get(path, 0) + 1
    listing = _listing(ctx, path) if failures >= 2 else None
    if listing is None:
        return exc
    return ToolError(
        f"{_FAILURES[exc.kind]}. This is failed edit {failures} of {shown} in this turn: here "
        f"is the whole file; send the whole new content with write_file.\n{listing}", exc.kind)


def _place(text: str, block: str) -> str:
    """`text`'s lines where `block` is, or else the lines most like it, numbered."""
    lines, wanted = text.removesuffix("\n").split("\n"), block.strip("\n").split("\n")
    at = text.find(block.strip()) if block.strip() else -1
    if at >= 0:
        start = text.count("\n", 0, at)
    elif len(wanted) * len(text) <= MAX_SIMILARITY_WORK:
        start = _closest_window([_key(x) for x in lines], [_key(x) for x in wanted][: len(lines)])
    else:
        start = 0
    first, end = max(0, start - 2), min(len(lines), start + len(wanted) + 2)
    return f"Lines {first + 1}-{end} of the file as it is now:\n{numbered_lines(text, first, end)}"


def _same_text_error(text: str, old: str, shown: str) -> ToolError:
    return ToolError(
        f"`old` and `new` are the same, so the edit would change nothing. {_place(text, old)}\n"
        f"Put the changed text in `new` (or copy the exact lines of {shown} into `old`).",
        "edit_old_equals_new")


def _already_made_error(text: str, new: str, shown: str, why: str) -> ToolError:
    return ToolError(
        f"this edit was already made: {why}. {_place(text, new)}\nDo not repeat it; check the "
        "result instead (run the code or its tests).", "edit_already_made")


class WriteFile:
    """Create or overwrite a whole file."""

    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = (
        "Write a whole file: creates it (and its folders) or replaces all its content, so "
        "`content` is the complete file, every line of it."
    )
    mutating: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="Path of the file, relative to the workspace root.")
        content: str = Field(description="The complete new content of the file.")

    def check(self, args: WriteFile.Args, ctx: ToolContext) -> str:
        """Fail before approval for a path that cannot be written; else the write's diff."""
        path, shown = self._target(args, ctx)
        require_read(ctx, path, shown, "change")
        try:
            before = path.read_bytes() if path.is_file() else None
        except OSError:
            before = None  # the write itself says what is wrong
        old = _existing_text(before) if before is not None else None
        content = _content(ctx, path, shown, before, old, args.content)
        if old is not None:
            _require_sound(ctx, path, shown, before, old.text, old.encode(content))
        return unified_diff(old.text if old else "", content, shown)

    @staticmethod
    def _target(args: WriteFile.Args, ctx: ToolContext) -> tuple[Path, str]:
        path = ctx.workspace.resolve(args.path, write=True)
        shown = ctx.workspace.relative(path)
        if path.is_dir():
            raise ToolError(f"{shown} is a directory; give a file path to write.")
        return path, shown

    def __call__(self, args: WriteFile.Args, ctx: ToolContext) -> ToolResult:
        path, shown = self._target(args, ctx)
        require_read(ctx, path, shown, "change")
        with _permission(shown, "reading"):
            before = path.read_bytes() if path.exists() else None
        _check_unchanged(ctx, path, shown, before)
        old = _existing_text(before) if before is not None else None
        content = _content(ctx, path, shown, before, old, args.content)
        data = (old or TextFile(text="")).encode(content)
        if data == before:
            _remember_seen(ctx, path, data)
            return ToolResult.text(
                f"{shown} already has this content; nothing written.", summary=f"{shown} unchanged"
            )
        if old is not None:
            _require_sound(ctx, path, shown, before, old.text, data)
        _make_parents(path, shown)
        _write(path, shown, data)
        _remember_seen(ctx, path, data)
        return _write_result(shown, old.text if old else None, content)


def _require_sound(ctx: ToolContext, path: Path, shown: str, before: bytes, old: str,
                   after: bytes) -> None:
    """Refuse a write over an existing file that leaves code out or breaks its syntax; from
    the second failure on that file in a turn, the refusal shows the whole file."""
    try:
        require_complete(old, after.decode("utf-8", errors="replace"), shown)
        require_valid_syntax(ctx, path, shown, before, after)
    except ToolError as exc:
        raise _escalate(ctx, path, shown, exc) from None


def _existing_text(data: bytes) -> TextFile:
    """A file about to be overwritten: its newline style, and its text for the diff (lossy)."""
    if b"\0" in data[:8192]:
        return TextFile(text="")
    try:
        return decode_text(data)
    except UnicodeDecodeError:
        return TextFile(text=data.decode("utf-8", errors="replace"))


def _raise_if_already_made(text: str, old: str, new: str, shown: str) -> None:
    # Small models re-send an edit that already succeeded; say so instead of "not found".
    if old.strip() in text or not new.strip() or new.strip() not in text:
        return
    raise _already_made_error(text, new, shown, f"`old` is no longer in {shown} and `new` is there")


def _content(ctx: ToolContext, path: Path, shown: str, before: bytes | None,
             old: TextFile | None, given: str) -> str:
    """What a write of `given` puts in the file (`_new_content`); when the call's JSON escaped
    the newlines twice (literal `\\n`s in the text) so that the file's syntax breaks, and the
    text with those made newlines does not break it, that text."""
    content = _new_content(old, given, shown)
    if (old is None or before is None or "\\n" not in content
            or keeps_parsing(ctx, path, shown, before, old.encode(content))):
        return content
    unescaped = content.replace("\\n", "\n")
    return unescaped if keeps_parsing(ctx, path, shown, before, old.encode(unescaped)) else content


def _new_content(old_file: TextFile | None, new: str, shown: str) -> str:
    """What a write puts in the file: `\\n` newlines, the old file's final newline kept, no
    line numbers or chat wrapper (a fence, `<pre><code>`) copied along."""
    new = without_wrapper(without_line_numbers(new.replace("\r\n", "\n")), shown)
    old = old_file.text if old_file else ""
    if not old or not new:
        return new
    if old.endswith("\n") and not new.endswith("\n"):
        return new + "\n"
    if not old.endswith("\n") and new.endswith("\n"):
        return new.removesuffix("\n")
    return new


def _make_parents(path: Path, shown: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ToolError(
            f"cannot create {shown}: a parent of it is a file, not a directory."
        ) from None


def _write(path: Path, shown: str, data: bytes) -> None:
    with _permission(shown, "writing"):
        atomic_write(path, data)


def _write_result(shown: str, old: str | None, new: str) -> ToolResult:
    diff = unified_diff(old or "", new, shown)
    if old is None:
        lines = new.count("\n") + (0 if new.endswith("\n") or not new else 1)
        return ToolResult.text(
            f"created {shown} ({lines} lines)",
            summary=f"created {shown} ({lines} lines)",
            diff=diff,
        )
    added, removed = diff_stats(diff)
    summary = f"wrote {shown} (+{added} -{removed})"
    return ToolResult.text(f"{summary}\n{_diff_text(diff)}", summary=summary, diff=diff)


def _match(text: str, args: EditFile.Args, shown: str):
    """The edit `args` asks for in `text`, or the ToolError that shows the place meant."""
    old, new = args.old.replace("\r\n", "\n"), args.new.replace("\r\n", "\n")
    if (plain := without_line_numbers(old)) != old and old not in text:
        old, new = plain, without_line_numbers(new)
    if old == new and old:
        raise _same_text_error(text, old, shown)
    try:
        edit = find_edit(text, old, new, replace_all=args.replace_all, shown=shown)
    except ToolError:
        _raise_if_already_made(text, old, new, shown)
        raise
    if edit.text == text:
        raise _already_made_error(text, new, shown, "the matched text already equals `new`")
    return edit


def _with_unescaped_reading(edit: Edit, text: str, args: EditFile.Args, shown: str) -> Edit:
    """`edit` with one more reading where `new` holds literal `\\n`s: the call's JSON escaped
    its newlines twice. Taken only where `edit` breaks the file's syntax and this does not."""
    if "\\n" not in args.new:
        return edit
    unescaped = args.model_copy(update={"old": args.old.replace("\\n", "\n"),
                                        "new": args.new.replace("\\n", "\n")})
    try:
        other = _match(text, unescaped, shown)
    except ToolError:
        return edit
    return replace(edit, others=(*edit.others, other))


def _with_block_reading(edit: Edit, text: str, args: EditFile.Args, name: str) -> Edit:
    """`edit` with one more reading where `old` is a block's first line (`def f(x):`,
    `function f() {`) and `new` starts with that line and goes on: a model that means "this
    function, rewritten" but copied only its header. Then `new` replaces the whole block."""
    found = block_rewrite(text, args.old.replace("\r\n", "\n"), args.new, name)
    if found is None:
        return edit
    whole = Edit(found.text, (
        f"`old` is the first line of the block at lines {found.first + 1}-{found.last + 1}, and "
        "`new` rewrites it: the whole block was replaced. Check the diff."))
    if found.rewrites:  # then the first reading, kept only where the others do not parse
        return replace(whole, others=(edit, *edit.others))
    return replace(edit, others=(*edit.others, whole))


class EditFile:
    """Replace one exact piece of text in a file."""

    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = (
        "Edit a file by replacing text: `old` must appear exactly once in the file "
        "(copy it from read_file output, without line numbers, with a few lines of context). "
        "Set replace_all to change every occurrence. To create a file use write_file."
    )
    mutating: ClassVar[bool] = True
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="Path of the file, relative to the workspace root.")
        old: str = Field(description="The exact text to replace, including indentation.")
        new: str = Field(description="The text to put in its place.")
        replace_all: bool = Field(
            default=False, description="Replace every occurrence of `old` instead of exactly one."
        )

    def check(self, args: EditFile.Args, ctx: ToolContext) -> str:
        """Fail before anyone is asked to approve an edit that cannot apply; else its diff."""
        _, shown, current, edit = self._plan(args, ctx)
        return unified_diff(current.text, edit.text, shown)

    def _plan(self, args: EditFile.Args, ctx: ToolContext):
        path = existing_file(ctx, args.path, "edit_file", write=True,
                             missing_hint="; to create a file use write_file.")
        shown = ctx.workspace.relative(path)
        require_read(ctx, path, shown, "edit")
        raw, current = _read_utf8(path, shown, "edit_file")
        _check_unchanged(ctx, path, shown, raw)
        try:
            return self._plan_in(path, shown, raw, current, args, ctx)
        except ToolError as exc:
            if exc.kind == "edit_old_not_found" and ctx.edit_guards and _block(args.old):
                if (elsewhere := self._plan_elsewhere(path, shown, args, ctx)) is not None:
                    return elsewhere
            raise _escalate(ctx, path, shown, exc) from None

    @staticmethod
    def _plan_in(path: Path, shown: str, raw: bytes, current: TextFile, args: EditFile.Args,
                 ctx: ToolContext):
        edit = _match(current.text, args, shown)
        edit = _with_block_reading(edit, current.text, args, path.name)
        edit = _with_unescaped_reading(edit, current.text, args, shown)
        edit = parsing_reading(ctx, path, shown, raw, current, edit)
        return path, shown, current, edit

    def _plan_elsewhere(self, named: Path, named_shown: str, args: EditFile.Args,
                        ctx: ToolContext):
        """The plan for `old` (a block of lines) in the one other file the model has read that
        holds it (a model that read several files often names the wrong one), or None."""
        found = []
        for path in list(ctx.seen):
            if path == named or path.name in _SETTINGS_FILES or not path.is_file():
                continue
            try:
                shown = ctx.workspace.relative(ctx.workspace.resolve(str(path), write=True))
                if secret_reason(path, named=shown) is not None:
                    continue
                raw, current = _read_utf8(path, shown, "edit_file")
                _check_unchanged(ctx, path, shown, raw)
                found.append(self._plan_in(path, shown, raw, current, args, ctx))
            except (ToolError, OSError, ValueError):
                continue
            if len(found) > 1:
                return None
        if not found:
            return None
        path, shown, current, edit = found[0]
        note = f"`old` is not in {named_shown} but in {shown}, which you read: edited {shown}."
        return path, shown, current, replace(edit, note=f"{note} {edit.note or ''}".strip())

    def __call__(self, args: EditFile.Args, ctx: ToolContext) -> ToolResult:
        path, shown, current, edit = self._plan(args, ctx)
        data = current.encode(edit.text)
        _write(path, shown, data)
        _remember_seen(ctx, path, data)
        diff = unified_diff(current.text, edit.text, shown)
        added, removed = diff_stats(diff)
        summary = f"edited {shown} (+{added} -{removed})"
        note = f" {edit.note}" if edit.note else ""
        return ToolResult.text(f"{summary}.{note}\n{_diff_text(diff)}", summary=summary, diff=diff)
