"""What goes with a message: `@path` files' contents, and images (as typed, pasted or pending).

Terminals deliver a dropped file as a paste of its path: quoted ('...' or "..."), with
backslash-escaped spaces, or as a file:// URI, several separated by spaces or new lines.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from gemma_code.tools.textfile import sniff_binary

from .messages import Part

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
MAX_PASTED_PATHS_CHARS = 16_384  # a longer paste is text, not a list of dropped files
MAX_COMPLETIONS = 8
MAX_ATTACH_BYTES = 200_000
_MENTION = re.compile(r"(?<!\S)@([^\s@]+)")


@dataclass
class Expanded:
    """A message as typed, and as the model gets it: with the `@path` files' contents."""

    text: str
    attached: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _fence(content: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", content)), default=2)
    return "`" * (longest + 1)


def expand_mentions(text: str, root: Path) -> Expanded:
    """Append the content of each `@path` that names a text file in the workspace."""
    result = Expanded(text=text)
    blocks, root = [], root.resolve()
    for name in dict.fromkeys(m.group(1) for m in _MENTION.finditer(text)):
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            continue  # an e-mail address or a decorator, not a file
        if sniff_binary(path):
            result.problems.append(f"@{name} is not a text file; not attached")
            continue
        data = path.read_bytes()
        note = ""
        if len(data) > MAX_ATTACH_BYTES:
            data, note = data[:MAX_ATTACH_BYTES], f" (first {MAX_ATTACH_BYTES} bytes)"
        content = data.decode("utf-8", errors="replace")
        fence = _fence(content)
        blocks.append(f"Content of {name}{note}:\n{fence}\n{content.rstrip()}\n{fence}")
        result.attached.append(name)
    if blocks:
        result.text = text + "\n\n" + "\n\n".join(blocks)
    return result


def to_path(word: str, root: Path) -> Path:
    """A typed or pasted path: a file:// URI or a path, `~` expanded, relative to `root`."""
    if word.startswith("file://"):
        word = url2pathname(urlparse(word).path)
    path = Path(word).expanduser()
    return path if path.is_absolute() else root / path


def split_paths(text: str) -> list[str]:
    """The words of `text` as a shell splits them: quotes and backslash escapes undone."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    if os.sep == "\\":
        lexer.escape = ""  # Windows paths are full of backslashes
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote
        return []


def is_image_file(path: Path) -> bool:
    """Whether `path` is an existing file with an image suffix."""
    try:
        return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def pasted_images(text: str, root: Path) -> list[Path]:
    """The image files a paste names when it is nothing but paths to existing images, else []."""
    text = text.strip()
    if not text or len(text) > MAX_PASTED_PATHS_CHARS:
        return []
    whole = to_path(text, root)  # one path with unescaped spaces
    paths = [whole] if is_image_file(whole) else [to_path(w, root) for w in split_paths(text)]
    if paths and all(is_image_file(p) for p in paths):
        return list(dict.fromkeys(paths))
    return []


def image_arguments(arg: str, root: Path) -> list[Path]:
    """The paths `/image ARG` means: ARG itself if it names a file, else its words."""
    whole = to_path(arg, root)
    if whole.is_file():
        return [whole]
    return [to_path(w, root) for w in split_paths(arg)] or [whole]


def complete_path(typed: str, root: Path) -> list[str]:
    """Completions of a typed path: folders (ending in `/`) and image files in them."""
    head = typed[: typed.rfind("/") + 1]
    prefix = typed[len(head):]
    folder = to_path(head, root) if head else root
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name.lower())
    except (OSError, ValueError):
        return []
    found = []
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        if entry.is_dir():
            found.append(f"{head}{name}/")
        elif entry.suffix.lower() in IMAGE_SUFFIXES:
            found.append(head + name)
        if len(found) == MAX_COMPLETIONS:
            break
    return found


@dataclass(frozen=True)
class Attachment:
    """An image ready to go with the next message: its name and what the model gets."""

    name: str
    parts: tuple[Part, ...]


class PendingAttachments:
    """Attachments for the next message, in the order they were asked for.

    Reading one may take seconds (OCR), so each gets a ticket when it starts; it keeps
    its place even when a later one is ready first.
    """

    def __init__(self) -> None:
        self._slots: dict[int, tuple[str, Attachment | None]] = {}
        self._next = 0

    def start(self, name: str) -> int:
        self._next += 1
        self._slots[self._next] = (name, None)
        return self._next

    def finish(self, ticket: int, attachment: Attachment | None) -> bool:
        """Fill the ticket's place, or drop it (None: the image could not be used).

        False when the ticket was cleared while its image was being read.
        """
        if ticket not in self._slots:
            return False
        if attachment is None:
            del self._slots[ticket]
        else:
            self._slots[ticket] = (attachment.name, attachment)
        return True

    @property
    def reading(self) -> list[str]:
        return [name for name, ready in self._slots.values() if ready is None]

    @property
    def ready(self) -> list[Attachment]:
        return [ready for _, ready in self._slots.values() if ready is not None]

    def parts(self) -> tuple[Part, ...]:
        return tuple(part for attachment in self.ready for part in attachment.parts)

    def clear(self) -> int:
        """Drop every attachment, those still being read too; how many there were."""
        count = len(self._slots)
        self._slots.clear()
        return count

    def __bool__(self) -> bool:
        return bool(self._slots)
