"""Whole-file writes that stand a comment in for code they leave out.

Asked for a whole file, small models often send the changed part and a line such as
`# ... rest of the code unchanged ...`; written as sent, the file loses everything that line
stood for. Such a write is refused when the line is new to the file and the file would get
shorter: a placeholder the file already had, or one in a file that grows, is left alone.
"""

from __future__ import annotations

import re

from gemma_code.agent.protocols import ToolError

_COMMENT = r"(?:#|//|/\*|<!--|--|;|\*)"
_WORDS = (r"(?:rest|remainder|remaining|existing|unchanged|same as before|as before|"
          r"previous(?:ly)?|other (?:code|methods|functions|imports|lines)|omitted|"
          r"no changes?|keep|kept)")
# a comment line holding an ellipsis and one of the words, in either order
# or a line that is nothing but an ellipsis (Python's `...` body is kept: see SHRINK_LINES)
_PLACEHOLDER = re.compile(
    rf"^\s*(?:{_COMMENT}\s*(?:(?:\.\.\.|…).*{_WORDS}|{_WORDS}.*(?:\.\.\.|…)|"
    rf"\.\.\.\s*{_WORDS}|{_WORDS}\s+(?:of\s+(?:the\s+)?)?(?:code|file|class|function|module))"
    rf"|(?:{_COMMENT}\s*)?(?:\.\.\.|…)\s*(?:\*/|-->)?\s*$)",
    re.IGNORECASE,
)
SHRINK_LINES = 3  # fewer lines than this lost: not a placeholder's doing


def placeholder_lines(old: str, new: str) -> list[tuple[int, str]]:
    """(line number, text) of `new`'s placeholder lines that `old` does not have, when `new`
    is at least `SHRINK_LINES` lines shorter than `old`; else none."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if len(old_lines) - len(new_lines) < SHRINK_LINES:
        return []
    had = {line.strip() for line in old_lines}
    return [(number, line.strip()) for number, line in enumerate(new_lines, 1)
            if line.strip() not in had and _PLACEHOLDER.match(line)]


def require_complete(old: str, new: str, shown: str) -> None:
    """Refuse a write of `shown` whose `new` text leaves code out behind a placeholder line."""
    found = placeholder_lines(old, new)
    if not found:
        return
    number, text = found[0]
    lost = len(old.splitlines()) - len(new.splitlines())
    raise ToolError(
        f"Not written: write_file replaces all of {shown}, and line {number} of your content "
        f"(`{text}`) stands for code you left out, so the file would lose {lost} lines. "
        "Send the complete new content: every line of the file, changed or not.",
        kind="elided",
    )
