"""An answer that holds a fix written as prose: a fenced code block about a workspace file.

Small models often end a turn with the corrected code in a code block instead of a call. Where
the block is plainly a new version of a file (the whole file, or one of its functions or
classes rewritten), `fix_as_call` turns it into the call that applies it, as aider applies a
whole-file reply; the call runs like any other (approval, the edit guards, the diff). Where it
is not, the loop answers once with `NUDGE`.
"""

from __future__ import annotations

import re
import threading
from difflib import SequenceMatcher
from pathlib import Path

from .messages import ToolCall
from .protocols import Workspace


def nudge(offered: list[str]) -> str:
    """What the model is told once when its answer holds a fix no file has, naming the tools
    it has for files."""
    tools = " or ".join(name for name in ("edit_file", "write_file") if name in offered)
    return ("You wrote the change as text, but no file was changed. Apply it with "
            f"{tools or 'a tool call'}.")


NUDGE = nudge(["edit_file", "write_file"])
_BLOCK = re.compile(r"^[ \t]*```([^\n`]*)\n(.*?)^[ \t]*```", re.M | re.S)
# a definition's first line: Python, JavaScript/TypeScript, shell functions
_HEADER = re.compile(r"^\s*(?:export\s+)?(?:async\s+)?(?:def|class|function)\s+(\w+)"
                     r"|^\s*(?:function\s+)?(\w+)\s*\(\)\s*\{")
_MAX_FILES = 2000
_MAX_BYTES = 200_000
_MIN_LINE = 8  # shorter lines (`return x`, `}`) match too many files to mean anything
WHOLE_SHARE = 0.7  # a block this long, against the file, is the whole file...
WHOLE_LIKENESS = 0.5  # ...when its lines are at least this much like the file's


def holds_fix(text: str, workspace: Workspace, cancel: threading.Event | None = None) -> bool:
    """True when a fenced code block in `text` names a workspace file or repeats its lines."""
    blocks = [(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]
    if not blocks:
        return False
    files = workspace.files(cancel=cancel)[:_MAX_FILES]
    names = {workspace.relative(f) for f in files} | {f.name for f in files}
    for info, body in blocks:
        if any(name in info or re.search(rf"(?<![\w/.]){re.escape(name)}\b", body)
               for name in names if "." in name):
            return True
    wanted = {line.strip() for _, body in blocks for line in body.splitlines()
              if len(line.strip()) >= _MIN_LINE}
    return bool(wanted) and any(wanted & _lines(f) for f in files)


def fixes_as_calls(text: str, workspace: Workspace, offered: list[str],
                   cancel: threading.Event | None = None) -> list[ToolCall]:
    """The calls that apply the answer's code blocks to the files they are new versions of,
    with the tools `offered`, one a file (its last block); none when no block plainly is one."""
    blocks = [(m.group(1), m.group(2), text[: m.start()]) for m in _BLOCK.finditer(text)]
    if not blocks:
        return []
    files = {workspace.relative(f): f for f in workspace.files(cancel=cancel)[:_MAX_FILES]}
    calls: dict[str, ToolCall] = {}
    for info, body, before in reversed(blocks):
        for path in _targets(info, body, before, files):
            if path in calls:
                break
            body = _without_path_line(body, path)
            call = _applying(path, _text(files[path]), body, offered)
            if call is not None:
                calls[path] = call
                break
    return list(reversed(calls.values()))


def _without_path_line(body: str, path: str) -> str:
    """`body` without a first line that is only a comment naming the file (`# app/x.py`)."""
    first, _, rest = body.partition("\n")
    name = path.rsplit("/", 1)[-1]
    if re.fullmatch(rf"\s*(?:#|//|--|;)\s*(?:\S*/)?{re.escape(name)}\s*:?\s*", first):
        return rest
    return body


def _same_code(a: str, b: str) -> bool:
    """Whether two texts differ only in blank lines, indentation of blank lines and trailing
    spaces (a block that quotes the file as it is)."""
    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.splitlines() if line.strip()]
    return lines(a) == lines(b)


def _targets(info: str, body: str, before: str, files: dict[str, Path]) -> list[str]:
    """The files a block may be about: one its fence or the lines before it name, else those
    holding its first definition's header, else those sharing most of its lines."""
    near = "\n".join([info, *before.rstrip().splitlines()[-2:], body.partition("\n")[0]])
    by_name = [rel for rel, path in files.items()
               if re.search(rf"(?<![\w/.]){re.escape(rel)}\b", near)
               or ("/" in rel and re.search(rf"(?<![\w/.]){re.escape(path.name)}\b", near))]
    if by_name:
        return by_name[:1]
    header = _header(body)
    if header is not None:
        holding = [rel for rel, path in files.items() if _find_header(_text(path), header) is not None]
        if len(holding) == 1:
            return holding
    wanted = {line.strip() for line in body.splitlines() if len(line.strip()) >= _MIN_LINE}
    shares = sorted(((len(wanted & _lines(path)) / len(wanted), rel) for rel, path in files.items()
                     if wanted), reverse=True)
    return [rel for share, rel in shares[:1] if share >= 0.5]


def _applying(path: str, current: str | None, body: str, offered: list[str]) -> ToolCall | None:
    if current is None or _same_code(body, current) or not body.strip():
        return None
    old_lines, new_lines = current.splitlines(), body.splitlines()
    whole = (len(new_lines) >= WHOLE_SHARE * len(old_lines) and SequenceMatcher(
        None, old_lines, new_lines, autojunk=False).ratio() >= WHOLE_LIKENESS)
    if whole:
        return _replacing(path, current, body, offered)
    header = _header(body)
    line = _find_header(current, header) if header is not None else None
    if line is None:
        return None
    from gemma_code.tools.readings import block_rewrite

    snippet = "\n".join(new_lines[new_lines.index(header):])
    rewritten = block_rewrite(current, line, snippet, Path(path).name, same_head=False)
    if rewritten is None:
        return None
    return _replacing(path, current, rewritten.text, offered)


def _replacing(path: str, current: str, new: str, offered: list[str]) -> ToolCall | None:
    """The call that makes `path` hold `new` instead of `current`."""
    if "write_file" in offered:
        return ToolCall(name="write_file", arguments={"path": path, "content": new})
    if "edit_file" in offered:
        return ToolCall(name="edit_file", arguments={"path": path, "old": current, "new": new})
    return None


def _header(body: str) -> str | None:
    """The block's first line that starts a definition."""
    return next((line for line in body.splitlines() if _HEADER.match(line)), None)


def _find_header(text: str | None, header: str) -> str | None:
    """The one line of `text` that starts the same definition as `header` (same kind and
    name, any arguments), whole; None when there is no such line or more than one."""
    name = _defined_name(header)
    start = header.strip().split(name)[0] + name  # `def f`, `class F`, `function f`
    lines = [line for line in (text or "").splitlines()
             if line.strip().startswith(start) and _defined_name(line) == name]
    return lines[0] if len(lines) == 1 else None


def _defined_name(line: str) -> str | None:
    found = _HEADER.match(line)
    return (found.group(1) or found.group(2)) if found else None


def _text(path: Path) -> str | None:
    try:
        if path.stat().st_size > _MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _lines(path: Path) -> set[str]:
    text = _text(path)
    return {line.strip() for line in text.splitlines()} if text else set()
