"""Whether an answer holds a fix written as prose: a fenced code block about a workspace file.

Small models often end a turn with the corrected code in a code block instead of a call; the
loop answers such an answer once with `NUDGE`.
"""

from __future__ import annotations

import re
import threading

from .protocols import Workspace

NUDGE = ("You wrote the change as text, but no file was changed. Apply it with edit_file or "
         "write_file.")
_BLOCK = re.compile(r"^[ \t]*```([^\n`]*)\n(.*?)^[ \t]*```", re.M | re.S)
_MAX_FILES = 2000
_MAX_BYTES = 200_000
_MIN_LINE = 8  # shorter lines (`return x`, `}`) match too many files to mean anything


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


def _lines(path) -> set[str]:
    try:
        if path.stat().st_size > _MAX_BYTES:
            return set()
        return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    except (OSError, UnicodeDecodeError):
        return set()
