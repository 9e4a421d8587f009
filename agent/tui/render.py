"""How calls and results read on screen: coloured diffs, folded previews, tool headlines."""

from __future__ import annotations

import json
import re
from typing import Any

from textual.content import Content

from gemma_code.agent.events import ToolFinished
from gemma_code.agent.messages import ToolCall

SHORT_VALUE = 40  # a longer (or multi-line) argument is summarised by its size
# The line a command's result ends with for the model; the status line says it for people.
EXIT_TRAILER = re.compile(r"\n?\[exit code (-?\d+) after ([\d.]+)s\]\s*$")


def diff_content(diff: str) -> Content:
    """A unified diff coloured with the theme's success/error/accent text colours."""
    parts: list[tuple[str, str] | str] = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            parts.append((line, "bold"))
        elif line.startswith("+"):
            parts.append((line, "$text-success"))
        elif line.startswith("-"):
            parts.append((line, "$text-error"))
        elif line.startswith("@@"):
            parts.append((line, "$text-accent"))
        else:
            parts.append(line)
    return Content.assemble(*parts).rstrip()


def preview(body: Content, limit: int, expanded: bool, tail: bool = False) -> Content:
    """`limit` lines of `body` and a hint naming how many more there are: the first lines,
    or with `tail` the last ones (a command's summary and failures come at its end)."""
    lines = body.split("\n")
    if expanded or len(lines) <= limit + 1:
        return body
    more = len(lines) - limit
    if limit == 0:
        return Content.styled(f"… {more} lines (Enter or click expands)", "$text-muted italic")
    if tail:
        hint = Content.styled(f"… {more} earlier lines (Enter or click expands)", "$text-muted italic")
        return Content("\n").join([hint, *lines[-limit:]])
    hint = Content.styled(f"… {more} more lines (Enter or click expands)", "$text-muted italic")
    return Content("\n").join([*lines[:limit], hint])


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _argument(key: str, value: Any) -> str:
    """`old "return a - b"`, `content 120 lines`, `limit=50`."""
    if isinstance(value, str):
        if "\n" in value.rstrip("\n") or len(value) > SHORT_VALUE:
            return f"{key} {_count(value.rstrip(chr(10)).count(chr(10)) + 1, 'line')}"
        return f'{key} "{value}"'
    return f"{key}={json.dumps(value)}"


def call_headline(call: ToolCall) -> Content:
    """The tool and what it works on: `$ command` for a command, else the path first and a
    short summary of the other arguments (long texts by their size, never dumped)."""
    title = call.name
    arguments = call.arguments
    if isinstance(arguments.get("command"), str):
        command = arguments["command"].replace("\n", "⏎")
        return Content.assemble((title, "bold"), " ", ("$ " + command, "$text-accent"))
    parts = []
    path = arguments.get("path")
    if isinstance(path, str):
        parts.append(Content.styled(path, "$text-accent"))
    for key, value in arguments.items():
        if key != "path":
            parts.append(Content.styled(_argument(key, value), "$text-muted"))
    return Content.assemble((title, "bold"), " ", Content(" · ").join(parts))


def is_failure(event: ToolFinished) -> bool:
    """An error, or a command that exited non-zero: either way a red ✗."""
    return event.is_error or event.exit_code not in (None, 0)


def status_line(event: ToolFinished, summary: str) -> Content:
    mark, style = ("✗", "$text-error") if is_failure(event) else ("✓", "$text-success")
    return Content.assemble((f"{mark} ", style), summary)


def without_exit_trailer(text: str, exit_code: int | None) -> str:
    """A command's output without the `[exit code N after Ts]` line the model gets."""
    match = EXIT_TRAILER.search(text)
    if exit_code is None or match is None or int(match.group(1)) != exit_code:
        return text
    return text[: match.start()]


def elapsed(seconds: float) -> str:
    """7s, 1m05s."""
    seconds = int(seconds)
    return f"{seconds}s" if seconds < 60 else f"{seconds // 60}m{seconds % 60:02d}s"
