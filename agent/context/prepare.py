"""Context for a user turn, built before the model's first step: the repo map (first turn
only, so later turns keep the prompt a prefix of what came before) and the files the
message points at. Attached files count as read, as if the model had called read_file."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..events import AttachedFile, ContextAttached
from .agents_md import MAX_BYTES as AGENTS_MAX
from .agents_md import agents_files
from .agents_md import block as agents_block
from .attach import attach
from .pointed import Target, inside, targets
from .repomap import Focus, fit, rank, ranked_files
from .tags import FileTags, workspace_tags

_MENTION = re.compile(r"(?<!\S)@([^\s@]+)")
MAX_MENTION_BYTES = 200_000  # agent/attachments.py attaches no more of a file than this
SMALL_REPOSITORY = 12  # source files: a message that points at none gets them all (budget allowing)
RANKED_FILES = 3  # else at most this many, ranked for the message
TASK_WORDS = 6  # a shorter message ("hello", "run the tests") is not a task to find code for


def default_budgets(context_size: int) -> tuple[int, int]:
    """(repo map tokens, attached files tokens) for a model's context size."""
    return min(context_size // 32, 2048), min(context_size // 8, 4096)


def token_counter(backend: object) -> Callable[[str], int]:
    """The backend's own count when it has a tokenizer, else about 4 characters a token."""
    count = getattr(backend, "count_tokens", None)
    if callable(count):
        return count
    tokenize = getattr(backend, "tokenize", None)
    if callable(tokenize):
        return lambda text: len(tokenize(text))
    return lambda text: len(text) // 4 + 1


def load_index(root: Path, files: list[Path] | None = None,
               cancel: threading.Event | None = None) -> dict[str, FileTags]:
    from ..workspace import walk_files

    listed = files if files is not None else walk_files(root, root, cancel)
    return workspace_tags(root, listed, cancel=cancel)


def repo_map(index: dict[str, FileTags], text: str, budget: int,
             count_tokens: Callable[[str], int], in_play: tuple[str, ...] = ()) -> str:
    """The map ranked for `text` and the files in play, within `budget` tokens ("" if 0)."""
    if budget <= 0 or not index:
        return ""
    return fit(rank(index, Focus.of(text, in_play)), budget, count_tokens)


def _is_source(index: dict[str, FileTags], path: str) -> bool:
    tags = index.get(path)
    return tags is not None and tags.parsed


def unpointed(text: str, index: dict[str, FileTags]) -> list[Target]:
    """For a task that points at no source file: a small repository's source files, else the
    few source files the map ranks first among those the message's words match (a file's
    name, or a definition's). A small model handed the code fixes it; one sent to look for it
    greps for the symptom's words and finds nothing."""
    source = {rel for rel, tags in index.items() if tags.parsed}
    if not source or len(text.split()) < TASK_WORDS:
        return []
    order, matched = ranked_files(index, Focus.of(text))
    if len(source) <= SMALL_REPOSITORY:
        return [Target(rel, "source of a small repository") for rel in order if rel in source]
    return [Target(rel, "ranked first for this message") for rel in order
            if rel in source and rel in matched][:RANKED_FILES]


@dataclass
class Prepared:
    """What goes before the user's text, and the event that tells the person."""

    blocks: list[str] = field(default_factory=list)
    event: ContextAttached | None = None
    digests: dict[Path, str] = field(default_factory=dict)  # files now counted as read


def prepare(root: Path, text: str, *, map_tokens: int, files_tokens: int,
            count_tokens: Callable[[str], int], cancel: threading.Event | None = None,
            given: str = "", first: bool = True) -> Prepared:
    """The map (when `map_tokens` > 0), the attached files for a message `text`, and the
    AGENTS.md files on the way to them not already in the conversation (`given`). A
    conversation's `first` message that points at no source file gets those `unpointed` picks."""
    result = Prepared()
    index = load_index(root, cancel=cancel) if map_tokens > 0 or files_tokens > 0 else {}
    mentioned = _mentions(text, root, result)
    attached = []
    if files_tokens > 0:
        found = [t for t in targets(text, root, index) if t.path not in mentioned]
        if first and not mentioned and not any(_is_source(index, t.path) for t in found):
            named = {t.path for t in found}  # data files only (`statement.csv`): not the code
            found += [t for t in unpointed(text, index) if t.path not in named]
        attached = attach(found, root, index, files_tokens, count_tokens)
    for item in attached:
        result.digests[root / item.path] = item.digest
    in_play = tuple(mentioned) + tuple(a.path for a in attached)
    files = _instructions(root, list(in_play), given, result)
    shown = repo_map(index, text, map_tokens, count_tokens, in_play)
    if shown:
        result.blocks.append(shown)
    if attached:
        result.blocks.append("Files this message points at (line numbers as read_file gives "
                             "them; they count as read):\n\n" + "\n\n".join(a.text for a in attached))
    files += [AttachedFile(path=p, lines="whole", reason="@mention") for p in mentioned]
    files += [AttachedFile(path=a.path, lines=a.lines, reason=a.reason) for a in attached]
    if files or shown:
        result.event = ContextAttached(
            files=tuple(files), map_files=_listed(shown),
            map_tokens=count_tokens(shown) if shown else 0)
    return result


def _instructions(root: Path, in_play: list[str], given: str, result: Prepared
                  ) -> list[AttachedFile]:
    said = []
    for rel, text, cut in agents_files(root, in_play, given):
        result.blocks.append(agents_block(rel, text))
        lines = f"1-{text.count(chr(10))}" if cut else "whole"
        why = f"project instructions, cut at {AGENTS_MAX} bytes" if cut else "project instructions"
        said.append(AttachedFile(path=rel, lines=lines, reason=why))
    return said


def _listed(shown: str) -> int:
    return sum(1 for line in shown.splitlines()[1:] if line and not line.startswith(" "))


def _mentions(text: str, root: Path, result: Prepared) -> list[str]:
    """`@path` files (agent/attachments.py put their text in the message): now counted as read."""
    found = []
    for name in dict.fromkeys(m.group(1) for m in _MENTION.finditer(text)):
        rel = inside(name, root)
        if rel is None:
            continue
        try:
            data = (root / rel).read_bytes() if (root / rel).stat().st_size <= MAX_MENTION_BYTES else None
        except OSError:
            data = None
        if data is not None and b"\0" not in data[:8192]:
            result.digests[(root / rel).resolve()] = hashlib.sha256(data).hexdigest()
            found.append(rel)
    return found
