"""The files a task points at: paths and file names in the prompt, identifiers with exactly
one definition, and the workspace frames of tracebacks and failing-test output.

Only files inside the workspace are ever read; a frame naming /usr/lib/... is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .tags import FileTags

MAX_TARGETS = 60  # candidates looked at; the token budget decides how many are attached
MAX_USED = 3  # definitions attached because an attached one uses them
_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")

# Each pattern's groups: the path, then the line number.
_FRAMES = (
    re.compile(r'File "([^"\n]+)", line (\d+)'),  # Python traceback
    re.compile(r"^\s*([^\s:()\"']+\.\w+):(\d+):", re.M),  # pytest, compilers: path.py:12:
    re.compile(r"\bat (?:[^\s()]+ )?\(?((?:[A-Za-z]:)?[^\s():]+):(\d+):\d+\)?"),  # Node
    re.compile(r"^([^\s:]+): line (\d+):", re.M),  # bash
)
_PATHLIKE = re.compile(r"[\w.\-/\\]*[\w\-]\.[A-Za-z][\w]{0,9}\b")
_CALLED = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(\)?")
_QUOTED = re.compile(r"`([A-Za-z_][A-Za-z0-9_.]*)`")
_WORD = re.compile(r"\b[A-Za-z][A-Za-z0-9]{3,}\b")
MAX_PLAIN_WORD_DEFINITIONS = 3  # plain words ("Money", "shares") are a weaker hint than code
_SHAPED = re.compile(r"\b([a-z][a-z0-9]*_[a-z0-9_]+|_[A-Za-z0-9_]+|[a-z]+[A-Z][A-Za-z0-9]*"
                     r"|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\b")


@dataclass(frozen=True)
class Target:
    """A place the task points at: a file, and a line in it or a definition's lines."""

    path: str  # relative to the workspace root
    reason: str  # "traceback frame", "named in the prompt", "definition of NAME"
    line: int = 0  # a frame's line; 0: the file as a whole
    start: int = 0  # a definition's lines (0: none)
    end: int = 0


def frames(text: str, root: Path) -> list[tuple[str, int]]:
    """(relative path, line) of each workspace frame in `text`, innermost last as printed."""
    found: list[tuple[int, str, int]] = []
    for pattern in _FRAMES:
        for match in pattern.finditer(text):
            rel = inside(match.group(1), root)
            if rel is not None:
                found.append((match.start(), rel, int(match.group(2))))
    found.sort()
    return list(dict.fromkeys((rel, line) for _, rel, line in found))


def inside(name: str, root: Path) -> str | None:
    """`name` as a path relative to `root` when it is an existing file inside it, else None."""
    if not name or "\0" in name or len(name) > 1024:
        return None
    try:
        path = Path(name)
        path = (path if path.is_absolute() else root / path).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name the system refuses
        return None
    return path.relative_to(root).as_posix()


def targets(text: str, root: Path, index: dict[str, FileTags]) -> list[Target]:
    """Everything `text` points at, most telling first: traceback frames (innermost first),
    files it names, then identifiers that have exactly one definition."""
    found = [Target(rel, "traceback frame", line) for rel, line in reversed(frames(text, root))]
    framed = {target.path for target in found}
    found += [Target(rel, "named in the prompt") for rel in named_files(text, root, index)
              if rel not in framed]
    frame_lines = {(t.path, t.line) for t in found if t.line}
    found += [t for t in _definitions(text, index)  # a frame already shows its function
              if not any((t.path, n) in frame_lines for n in range(t.start, t.end + 1))]
    found += used_definitions([t for t in found if t.start], root, index)
    unique: dict[tuple, Target] = {}
    for target in found:
        unique.setdefault((target.path, target.line, target.start), target)
    return list(unique.values())[:MAX_TARGETS]


def named_files(text: str, root: Path, index: dict[str, FileTags]) -> list[str]:
    """Workspace paths in `text`, and file names that belong to exactly one file."""
    by_name: dict[str, list[str]] = {}
    for rel in index:
        by_name.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
    named = []
    for word in dict.fromkeys(m.group(0).strip("./\\") for m in _PATHLIKE.finditer(text)):
        if "/" in word or "\\" in word:
            rel = inside(word.replace("\\", "/"), root)
        else:
            owners = by_name.get(word, [])
            rel = owners[0] if len(owners) == 1 else inside(word, root)
        if rel is not None:
            named.append(rel)
    return list(dict.fromkeys(named))


def used_definitions(found: list[Target], root: Path, index: dict[str, FileTags]) -> list[Target]:
    """Definitions in other files that the definitions `found` use, each where its name has
    exactly one definition, at most `MAX_USED` of them: one hop down the calls, where a bug
    the prompt describes by its symptom often lives (a model that sees only the caller edits
    the caller)."""
    defined: dict[str, list[tuple[str, int, int]]] = {}
    for rel, tags in index.items():
        for d in tags.defs:
            defined.setdefault(d.name, []).append((rel, d.line, d.end))
    used: list[Target] = []
    for target in found:
        try:
            lines = (root / target.path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        names = dict.fromkeys(_NAME.findall("\n".join(lines[target.start - 1 : target.end])))
        for name in names:
            spots = defined.get(name, [])
            if len(spots) == 1 and spots[0][0] != target.path:
                rel, start, end = spots[0]
                used.append(Target(rel, f"{name}, used by {target.reason.removeprefix('definition of ')}",
                                   start=start, end=end))
    return list({(t.path, t.start): t for t in used}.values())[:MAX_USED]


def identifiers(text: str) -> list[str]:
    """Words the prompt uses as code: `name()`, `quoted`, snake_case, camelCase."""
    words = [m.group(1) for m in _CALLED.finditer(text) if m.group(0).endswith("(")]
    words += [w.rsplit(".", 1)[-1] for w in _QUOTED.findall(text)]
    words += _SHAPED.findall(text)
    return list(dict.fromkeys(w for w in words if len(w) >= 3))


def _definitions(text: str, index: dict[str, FileTags]) -> list[Target]:
    """Definitions of the prompt's identifiers, then of a few of its plain words ("the Money
    class", "the shares"), each only where the name has exactly one definition."""
    code = set(identifiers(text))
    plain = set(_WORD.findall(text)) - code
    places: dict[str, list[tuple[str, int, int]]] = {}
    for rel, tags in index.items():
        for d in tags.defs:
            if d.name in code or d.name in plain:
                places.setdefault(d.name, []).append((rel, d.line, d.end))
    unique = {name: spots[0] for name, spots in places.items() if len(spots) == 1}

    def found(names) -> list[Target]:
        return sorted((Target(rel, f"definition of {name}", start=start, end=end)
                       for name, (rel, start, end) in unique.items() if name in names),
                      key=lambda t: (t.path, t.start))

    return found(code) + found(plain)[:MAX_PLAIN_WORD_DEFINITIONS]
