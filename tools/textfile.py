"""Shared by the file tools: binary detection, decoding, streaming, atomic writes, diffs."""

from __future__ import annotations

import difflib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gemma_code.agent.protocols import ToolError

SNIFF_BYTES = 8192
UTF8_BOM = b"\xef\xbb\xbf"

IMAGE_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .webp .bmp .tif .tiff .ico .heic .heif .avif".split()
)
BINARY_SUFFIXES = frozenset(
    """
    .pyc .pyo .so .o .a .dll .dylib .exe .bin .obj .class .jar .war .whl .egg
    .zip .gz .tgz .bz2 .xz .zst .7z .rar .tar .lz4 .br
    .pdf .doc .docx .xls .xlsx .ppt .pptx .odt
    .mp3 .mp4 .wav .flac .ogg .m4a .mov .avi .mkv .webm
    .ttf .otf .woff .woff2 .eot
    .sqlite .sqlite3 .db .gguf .safetensors .pt .pth .ckpt .npy .npz .pkl .pickle .onnx .h5
    """.split()
)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def sniff_binary(path: Path) -> bool:
    """True for known binary extensions and for files with a NUL byte in their first 8 KB."""
    if path.suffix.lower() in BINARY_SUFFIXES | IMAGE_SUFFIXES:
        return True
    with path.open("rb") as f:
        return b"\0" in f.read(SNIFF_BYTES)


def binary_refusal(path: Path, shown: str, action: str) -> ToolError:
    """The error for a file the text tools will not `action` (read, edit...)."""
    if is_image_path(path):
        return ToolError(
            f"{shown} is an image; {action} only handles text. Use the view_image tool for images."
        )
    with path.open("rb") as f:
        head = f.read(2)
    if head in (b"\xff\xfe", b"\xfe\xff"):
        return ToolError(
            f"{shown} is UTF-16 text, which the file tools cannot {action}; "
            "convert it with run_shell (iconv -f UTF-16 -t UTF-8) if you need it."
        )
    return ToolError(f"{shown} is a binary file; {action} only handles text files.")


def iter_raw_lines(f: BinaryIO, max_line_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Yield (line without its newline, bytes cut off) without ever holding a huge line.

    A line longer than `max_line_bytes` yields its head; the rest is skipped in chunks.
    """
    while True:
        line = f.readline(max_line_bytes)
        if not line:
            return
        if line.endswith(b"\n") or len(line) < max_line_bytes:
            yield line.rstrip(b"\n").removesuffix(b"\r"), 0
            continue
        skipped = 0
        while True:
            more = f.readline(1 << 16)
            if not more or more.endswith(b"\n"):
                skipped += len(more.rstrip(b"\n").removesuffix(b"\r"))
                break
            skipped += len(more)
        yield line.removesuffix(b"\r"), skipped


def count_remaining_lines(f: BinaryIO) -> int:
    """How many lines are left from the current position (a last line without newline counts)."""
    count, last = 0, b""
    while chunk := f.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk
    return count + (1 if last and not last.endswith(b"\n") else 0)


@dataclass(frozen=True)
class TextFile:
    """A UTF-8 text file's content with `\\n` newlines, and how to write it back the same way."""

    text: str
    crlf: bool = False
    bom: bool = False

    def encode(self, text: str) -> bytes:
        """`text` (with `\\n` newlines) in this file's newline style and BOM."""
        if self.crlf:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        return (UTF8_BOM if self.bom else b"") + text.encode("utf-8")


def decode_text(data: bytes) -> TextFile:
    """Decode UTF-8 (UnicodeDecodeError otherwise); CRLF is normalized when most lines use it."""
    bom = data.startswith(UTF8_BOM)
    text = data[len(UTF8_BOM) :].decode("utf-8") if bom else data.decode("utf-8")
    crlf_count = text.count("\r\n")
    crlf = crlf_count > 0 and crlf_count * 2 >= text.count("\n")
    if crlf:
        text = text.replace("\r\n", "\n")
    return TextFile(text=text, crlf=crlf, bom=bom)


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder, fsync, then os.replace; keeps an existing mode."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # 0o666 through os.open lets the umask decide a new file's mode, like any editor would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the data itself is synced
    finally:
        os.close(fd)


def unified_diff(old: str, new: str, shown: str) -> str:
    """A unified diff of two texts (with `\\n` newlines), labelled a/<shown> and b/<shown>."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{shown}" if old else "/dev/null",
        tofile=f"b/{shown}",
    )
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def diff_stats(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) in a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def cap_text(text: str, max_lines: int, max_chars: int, what: str) -> str:
    """`text` cut to `max_lines` lines and `max_chars` characters, with a note on what was cut."""
    lines = text.splitlines(keepends=True)
    kept, size = [], 0
    for line in lines[:max_lines]:
        if size + len(line) > max_chars:
            break
        kept.append(line)
        size += len(line)
    if len(kept) == len(lines):
        return text
    return "".join(kept) + f"[... {len(lines) - len(kept)} more {what} lines not shown]\n"
