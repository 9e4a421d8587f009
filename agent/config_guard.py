"""Which file writes would change gemma-code's own settings: those ask in every mode.

The files: `.gemma-code.toml` anywhere in the workspace, a `pyproject.toml` that holds or would
hold `[tool.gemma-code]`, and the user's config file and the trust store when the workspace
holds them. A shell command can still write them, which no rule can catch in general; the
trust digest (`agent/trust.py`) makes such a change un-trust the project, which is what protects.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from .config import PROJECT_FILE, user_config_path
from .trust import trust_file

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")


def config_write_reason(path: Path, root: Path, diff: str | None) -> str | None:
    """Why writing `path` (resolved) needs the person's yes in every mode, or None.

    `diff` is the change the call would make (a unified diff), to tell whether a
    `pyproject.toml` would hold gemma-code's settings afterwards.
    """
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    own = {(root / PROJECT_FILE).resolve(), user_config_path().resolve(), trust_file().resolve()}
    if path.name == PROJECT_FILE or path in own:
        return f"{shown} holds gemma-code's own settings; changing it asks in every mode"
    is_pyproject = path.name == "pyproject.toml" or path == (root / "pyproject.toml").resolve()
    if is_pyproject and _carries_settings(path, diff):
        return (f"{shown} holds (or would hold) gemma-code's settings in [tool.gemma-code]; "
                "changing it asks in every mode")
    return None


def _carries_settings(path: Path, diff: str | None) -> bool:
    try:
        current = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        current = ""
    after = apply_diff(current, diff) if diff else current
    return _has_section(current) or _has_section(after)


def _has_section(text: str) -> bool:
    try:
        tool = tomllib.loads(text).get("tool")
    except tomllib.TOMLDecodeError:
        return "gemma" in text.lower()  # cannot tell: err on the side of asking
    return isinstance(tool, dict) and "gemma-code" in tool


def apply_diff(text: str, diff: str) -> str:
    """The new side of a unified diff of `text` (as `tools.textfile.unified_diff` writes it)."""
    old = text.splitlines(keepends=True)
    out: list[str] = []
    at, in_hunk = 0, False
    for line in diff.splitlines(keepends=True):
        if hunk := _HUNK.match(line):
            in_hunk = True
            start = int(hunk[1]) - (0 if hunk[2] == "0" else 1)
            out += old[at:start]
            at = start
        elif in_hunk and line[:1] in (" ", "-"):
            if line[0] == " ":
                out.append(line[1:])
            at += 1
        elif in_hunk and line[:1] == "+":
            out.append(line[1:])
    return "".join(out + old[at:])
