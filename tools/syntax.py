"""The syntax guard (the `syntax_guard` setting): an edit or write that would turn a file that
parsed into one that does not is refused, and the file stays as it was.

Only the file being changed is parsed, before and after, with the repo map's tree-sitter
grammars. A new file, a file that did not parse before, one with no grammar, a binary and one
over MAX_FILE_BYTES are written as asked.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gemma_code.agent.protocols import ToolContext, ToolError

from .grammars import MAX_FILE_BYTES, language_of, parser

CONTEXT_LINES = 3  # numbered lines shown on each side of the error's line
MAX_SHOWN_ERROR = 40  # characters of the unexpected text quoted


def numbered_lines(text: str, start: int, end: int) -> str:
    """Lines `start` to `end` (0-based, end excluded) of `text`, numbered like read_file's."""
    lines = text.split("\n")
    return "\n".join(f"{i + 1:6d}\t{lines[i]}" for i in range(start, min(end, len(lines))))


def require_valid_syntax(ctx: ToolContext, path: Path, shown: str, before: bytes | None,
                         after: bytes) -> None:
    """Refuse (ToolError, kind "syntax") a change that breaks the syntax of a file that parsed."""
    # A new file has no "before": nothing parsed that the write could break, so it is written.
    if not ctx.syntax_guard or before is None:
        return
    found = _break(path.name, before, after)
    if found is not None:
        row, what = found
        raise ToolError(_refusal(shown, after.decode("utf-8", errors="replace"), row, what),
                        "syntax")


def _break(name: str, before: bytes, after: bytes) -> tuple[int, str] | None:
    """Where (0-based line) and how `after` breaks a file whose `before` parsed; None when it
    does not, or when the file is not checked."""
    language = language_of(name)
    if language is None or not _checkable(before) or not _checkable(after):
        return None
    made = parser(language)
    if made is None or _first_error(made.parse(before).root_node) is not None:
        return None
    error = _first_error(made.parse(after).root_node)
    found = (error.start_point[0], _what(error)) if error is not None else None
    if language == "python":
        return _python_break(before, after, tree_sitter_found=found is not None)
    return found


def _python_break(before: bytes, after: bytes, tree_sitter_found: bool) -> tuple[int, str] | None:
    """Python's own parser has the last word, and names the place and the fault better than
    tree-sitter's lenient grammar (which reads bad indentation, and even Python 2, as fine)."""
    error = _python_error(after)
    if error is None or _python_error(before) is not None:
        return None
    if not tree_sitter_found and not isinstance(error, IndentationError):
        return None  # syntax newer than this Python, which only tree-sitter's grammar knows
    return (error.lineno or 1) - 1, error.msg


def block_at(name: str, text: str, row: int) -> tuple[int, int] | None:
    """(first, last) 0-based lines of the smallest construct that starts where line `row`'s
    code starts and goes on past it (a function, a class, an `if` block), by the file's
    grammar; None when there is none, no grammar, or the file does not parse."""
    language = language_of(name)
    data = text.encode("utf-8")
    made = parser(language) if language is not None and _checkable(data) else None
    if made is None:
        return None
    tree = made.parse(data)
    if tree.root_node.has_error:
        return None
    line = text.split("\n")[row]
    start = (row, len(line.encode("utf-8")) - len(line.lstrip().encode("utf-8")))
    node = tree.root_node.descendant_for_point_range(start, start)
    while (node is not None and node.parent is not None and node.end_point[0] <= row
           and tuple(node.parent.start_point) == start):
        node = node.parent  # from the first token up to the first construct past the line
    if node is None or node.parent is None or tuple(node.start_point) != start \
            or node.end_point[0] <= row:
        return None
    return row, node.end_point[0]


def _checkable(data: bytes) -> bool:
    return len(data) <= MAX_FILE_BYTES and b"\0" not in data[:8192]


def _python_error(data: bytes) -> SyntaxError | None:
    try:
        ast.parse(data)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError):
        return SyntaxError("the file cannot be parsed")
    return None


def _first_error(node):
    """The first ERROR or MISSING node in the tree, in document order; None if it parsed."""
    if not node.has_error:
        return None
    if node.is_missing or node.is_error:
        return _innermost(node)
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return None


def _innermost(node):
    # An ERROR node can span a whole statement; a MISSING node inside it marks the place better.
    for child in node.children:
        if child.is_missing or (child.is_error and child.start_byte == node.start_byte):
            return _innermost(child)
    return node


def _what(node) -> str:
    if node.is_missing:
        return f"missing {node.type!r}"
    text = node.text.decode("utf-8", errors="replace").strip().split("\n")[0]
    if not text:
        return "unexpected end of the file"
    if len(text) > MAX_SHOWN_ERROR:
        text = text[:MAX_SHOWN_ERROR] + "..."
    return f"a syntax error near {text!r}"


def _refusal(shown: str, text: str, row: int, what: str) -> str:
    last = text.removesuffix("\n").count("\n")
    if row > last:  # an error at the very end (a block never closed) is shown on the last line
        row, what = last, f"{what} at the end of the file"
    first = max(0, row - CONTEXT_LINES)
    around = numbered_lines(text, first, min(row + CONTEXT_LINES, last) + 1)
    return (f"this change would break the syntax of {shown}: line {row + 1}, {what}. "
            f"The lines around it, as the change would leave them:\n{around}\n"
            "The file was not changed; fix the edit and send it again.")
