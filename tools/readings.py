"""Readings of an edit: the other texts a model's call may mean, and the rule that picks the
one that keeps the file parsing.

A small model's edit is often right in intent and wrong in form: only a block's header copied as
`old` with the whole rewritten block as `new`, or newlines escaped twice. `edits.py` builds the
readings; `parsing_reading` takes the first that leaves the file parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from gemma_code.agent.protocols import ToolContext, ToolError

from .matching import Edit, in_files_frame, indent_of
from .syntax import block_at, require_valid_syntax
from .textfile import TextFile

REWRITE_LIKENESS = 0.6  # `new` this much like a block's body rewrites the block


def parsing_reading(ctx: ToolContext, path: Path, shown: str, raw: bytes, current: TextFile,
                     edit: Edit) -> Edit:
    """`edit`, or the first of its other readings that keeps the file parsing where `edit`
    does not; the syntax guard's refusal of `edit` where none does."""
    try:
        require_valid_syntax(ctx, path, shown, raw, current.encode(edit.text))
        return edit
    except ToolError:
        for other in edit.others:
            if keeps_parsing(ctx, path, shown, raw, current.encode(other.text)):
                return other
        raise


def keeps_parsing(ctx: ToolContext, path: Path, shown: str, raw: bytes, after: bytes) -> bool:
    try:
        require_valid_syntax(ctx, path, shown, raw, after)
    except ToolError:
        return False
    return True


@dataclass(frozen=True)
class BlockRewrite:
    """A block of a file (a function, a class) replaced whole by a rewritten version."""

    text: str  # the file's new text
    first: int  # the block's first and last line in the old text, counted from 0
    last: int
    rewrites: bool  # whether the new body reads as a version of the old one (`_rewrites`)


def block_rewrite(text: str, header: str, new: str, name: str,
                  same_head: bool = True) -> BlockRewrite | None:
    """`text` with the block whose first line is `header` (found once) replaced by `new`,
    which starts with that line (with `same_head`; else with any) and goes on, in the file's
    indentation; None when there is no such block (`name`, the file's name, picks its
    language)."""
    new = new.replace("\r\n", "\n").removesuffix("\n")
    head, *rest = new.split("\n")
    if ("\n" in header.strip() or not header.strip() or not rest or text.count(header) != 1
            or (same_head and head.strip() != header.strip())):
        return None
    row = text.count("\n", 0, text.index(header))
    block = block_at(name, text, row)
    if block is None:
        return None
    lines = text.split("\n")
    body = lines[block[0] + 1 : block[1] + 1]
    indent = indent_of(lines[row])
    lines[block[0] : block[1] + 1] = [indent + head.lstrip(), *in_files_frame(rest, indent)]
    return BlockRewrite("\n".join(lines), block[0], block[1], _rewrites(body, rest))


def _rewrites(body: list[str], rest: list[str]) -> bool:
    """Whether `rest` reads as a new version of `body` (half its lines or more, or text much
    like it) rather than lines to put before it."""
    old = [line.strip() for line in body if line.strip()]
    new = [line.strip() for line in rest if line.strip()]
    if not old:
        return False
    if sum(line in new for line in old) * 2 >= len(old):
        return True
    return SequenceMatcher(None, "\n".join(old), "\n".join(new)).ratio() >= REWRITE_LIKENESS
