"""The text of the files a task points at: small files whole, larger ones as the enclosing
definition or the lines around a frame, numbered as read_file numbers them, within a budget."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .pointed import Target
from .tags import MAX_FILE_BYTES, FileTags

WHOLE_LINES = 150  # files up to this long are attached whole
AROUND = 20  # lines either side of a frame outside any definition
MAX_SPAN = 120  # the most lines one definition or frame brings
HEAD_LINES = 60  # a large file named without a line: its start


@dataclass
class Attached:
    """One file's attached lines and why; `lines` is "whole" or "40-72" (several: "1-9, 40-72")."""

    path: str
    lines: str
    reason: str
    text: str
    digest: str  # sha256 of the file as read, so it counts as read


@dataclass
class _File:
    path: str
    data: bytes
    lines: list[str]
    reasons: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


def _read(root: Path, rel: str) -> _File | None:
    path = root / rel
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if b"\0" in data[:8192]:
        return None
    text = data.decode("utf-8", errors="replace")
    return _File(rel, data, text.splitlines())


def _span(target: Target, total: int, tags: FileTags | None) -> tuple[int, int]:
    if total <= WHOLE_LINES:
        return 1, total
    if target.start:
        return max(1, target.start - 2), min(total, target.end, target.start + MAX_SPAN)
    if target.line:
        inner = [d for d in (tags.defs if tags else ()) if d.line <= target.line <= d.end
                 and d.end - d.line <= MAX_SPAN]
        if inner:
            best = min(inner, key=lambda d: d.end - d.line)
            return max(1, best.line - 2), min(total, best.end + 2)
        return max(1, target.line - AROUND), min(total, target.line + AROUND)
    return 1, min(total, HEAD_LINES)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _render(file: _File) -> Attached:
    total = len(file.lines)
    spans = _merged(file.spans)
    whole = spans == [(1, total)]
    shown = "whole" if whole else ", ".join(f"{a}-{b}" for a, b in spans)
    reason = ", ".join(dict.fromkeys(file.reasons))
    what = "whole file" if whole else f"lines {shown}"
    out = [f"{file.path} ({what} of {total} lines; {reason}):"]
    for start, end in spans:
        if out[-1] and not out[-1].endswith(":"):
            out.append("   ...")
        out.extend(f"{n:6d}\t{file.lines[n - 1]}" for n in range(start, end + 1))
    return Attached(file.path, shown, reason, "\n".join(out),
                    hashlib.sha256(file.data).hexdigest())


def attach(targets: list[Target], root: Path, index: dict[str, FileTags], budget: int,
           count_tokens: Callable[[str], int]) -> list[Attached]:
    """The files `targets` name, in their order, each while the total stays within `budget`."""
    files: dict[str, _File | None] = {}
    for target in targets:
        if target.path not in files:
            files[target.path] = _read(root, target.path)
        file = files[target.path]
        if file is None or not file.lines:
            continue
        file.spans.append(_span(target, len(file.lines), index.get(target.path)))
        file.reasons.append(target.reason)
    chosen, used = [], 0
    for file in files.values():
        if file is None or not file.spans:
            continue
        attached = _render(file)
        cost = count_tokens(attached.text)
        if used + cost <= budget:
            chosen.append(attached)
            used += cost
    return chosen
