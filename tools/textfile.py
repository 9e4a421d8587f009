"""Shared by the file tools: binary detection, decoding, streaming, atomic writes, edit matching."""

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


# Edit matching: exact first, then whitespace-insensitive lines, then near-identical lines.

SIMILARITY_THRESHOLD = 0.9
SIMILARITY_MARGIN = 0.05
MAX_SIMILARITY_WORK = 5_000_000  # characters compared in all; past this, skip the fuzzy search
MAX_LISTED = 20


@dataclass(frozen=True)
class Edit:
    """The edited text and, for a tolerant match, a note telling the model what happened."""

    text: str
    note: str = ""


def find_edit(text: str, old: str, new: str, *, replace_all: bool, shown: str) -> Edit:
    """`old` -> `new` in `text`: exact, else ignoring whitespace, else near-identical lines."""
    if not old:
        raise ToolError(
            "`old` is empty. To insert text, copy a few existing lines next to the spot into "
            "`old` and put the same lines plus your addition in `new`; to create a new file, "
            "use write_file."
        )
    count = text.count(old)
    if count == 1 or (count > 1 and replace_all):
        note = f"Replaced {count} occurrences." if count > 1 else ""
        return Edit(text.replace(old, new), note)
    if count > 1:
        starts = _match_starts(text, old)
        lines = [text.count("\n", 0, i) + 1 for i in starts]
        span = old.removesuffix("\n").count("\n")
        raise _ambiguous(shown, [(n, n + span) for n in lines], "`old` appears")
    return _tolerant_edit(text, _split_block(old), _split_block(new), replace_all, shown)


def _match_starts(text: str, old: str) -> list[int]:
    starts, i = [], text.find(old)
    while i != -1:
        starts.append(i)
        i = text.find(old, i + len(old))
    return starts


def _split_block(block: str) -> list[str]:
    if not block:
        return []
    lines = block.split("\n")
    return lines[:-1] if block.endswith("\n") else lines


def _key(line: str) -> str:
    return " ".join(line.split())


REPLACE_ALL_HINT = ", or set replace_all to change every one"


def _ambiguous(
    shown: str, ranges: list[tuple[int, int]], what: str, hint: str = REPLACE_ALL_HINT
) -> ToolError:
    listed = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in ranges[:MAX_LISTED])
    more = f" and {len(ranges) - MAX_LISTED} more" if len(ranges) > MAX_LISTED else ""
    return ToolError(
        f"{what} {len(ranges)} times in {shown} (at lines {listed}{more}). Add surrounding lines "
        f"to `old` so it matches only one place{hint}."
    )


def _tolerant_edit(
    text: str, old: list[str], new: list[str], replace_all: bool, shown: str
) -> Edit:
    lines = text.split("\n")
    body = len(lines) - 1 if text.endswith("\n") else len(lines)
    keys = [_key(line) for line in lines[:body]]
    old_keys = [_key(line) for line in old]
    if not any(old_keys):
        raise ToolError(f"`old` (only whitespace) was not found in {shown}.", "edit_old_not_found")
    n = len(old)
    hits = [i for i in range(body - n + 1) if keys[i : i + n] == old_keys]
    if len(hits) > 1 and not replace_all:
        raise _ambiguous(
            shown, [(i + 1, i + n) for i in hits], "`old` (ignoring whitespace) appears"
        )
    if hits:
        chosen = _non_overlapping(hits, n)
        for i in reversed(chosen):
            lines[i : i + n] = _reindent(new, old, lines[i : i + n])
        where = ", ".join(f"{i + 1}-{i + n}" for i in chosen[:MAX_LISTED])
        note = (
            f"`old` did not match exactly; it matched lines {where} when ignoring whitespace, "
            "and `new` was re-indented to fit. Check the diff."
        )
        return Edit("\n".join(lines), note)
    return _similar_edit(lines, keys, old, new, shown)


def _non_overlapping(hits: list[int], n: int) -> list[int]:
    chosen: list[int] = []
    for i in hits:
        if not chosen or i >= chosen[-1] + n:
            chosen.append(i)
    return chosen


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(new: list[str], old: list[str], found: list[str]) -> list[str]:
    """`new` shifted by the indentation difference between `old` and the lines it matched."""
    first = next(i for i, line in enumerate(old) if line.strip())
    old_indent, file_indent = _indent(old[first]), _indent(found[first])
    if old_indent == file_indent:
        return list(new)
    return [
        file_indent + line[len(old_indent) :]
        if line.strip() and line.startswith(old_indent)
        else line
        for line in new
    ]


def _window_scores(keys: list[str], old_keys: list[str], floor: float) -> list[tuple[float, int]]:
    """(similarity, start) of every window of len(old_keys) lines scoring at least `floor`."""
    n, target = len(old_keys), "\n".join(old_keys)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    scores = []
    for i in range(len(keys) - n + 1):
        matcher.set_seq1("\n".join(keys[i : i + n]))
        if matcher.real_quick_ratio() >= floor and matcher.quick_ratio() >= floor:
            ratio = matcher.ratio()
            if ratio >= floor:
                scores.append((ratio, i))
    scores.sort(key=lambda s: (-s[0], s[1]))
    return scores


def _similar_edit(
    lines: list[str], keys: list[str], old: list[str], new: list[str], shown: str
) -> Edit:
    n, old_keys = len(old), [_key(line) for line in old]
    if _affordable(keys, n) and n <= len(keys):
        floor = SIMILARITY_THRESHOLD - SIMILARITY_MARGIN
        scores = _window_scores(keys, old_keys, floor)
        if scores and scores[0][0] >= SIMILARITY_THRESHOLD:
            best, start = scores[0]
            rivals = [s for s in scores[1:] if abs(s[1] - start) >= n]
            if rivals and rivals[0][0] > best - SIMILARITY_MARGIN:
                ranges = [(start + 1, start + n), (rivals[0][1] + 1, rivals[0][1] + n)]
                hint = ", and copy the text exactly from the file"
                raise _ambiguous(shown, ranges, "text close to `old` (not exact) appears", hint)
            lines[start : start + n] = _reindent(new, old, lines[start : start + n])
            note = (
                f"`old` did not match exactly; replaced lines {start + 1}-{start + n}, which are "
                f"{best:.0%} similar to it. Check the diff."
            )
            return Edit("\n".join(lines), note)
    raise _not_found(lines[: len(keys)], keys, old_keys, shown)


def _affordable(keys: list[str], n: int) -> bool:
    return n * sum(len(k) + 1 for k in keys) <= MAX_SIMILARITY_WORK


def _not_found(lines: list[str], keys: list[str], old_keys: list[str], shown: str) -> ToolError:
    if not lines or not any(keys):
        return ToolError(
            f"`old` was not found in {shown}, which is empty; use write_file to fill it.",
            "edit_old_not_found",
        )
    if not _affordable(keys, len(old_keys)):
        return ToolError(
            f"`old` was not found in {shown} (not even ignoring whitespace). Use grep to find the "
            "lines you mean, read_file to see them, and copy them exactly into `old`.",
            "edit_old_not_found",
        )
    n = min(len(old_keys), len(keys))
    start = _closest_window(keys, old_keys[:n])
    end = min(start + max(n, 1), start + 40)
    numbered = "\n".join(f"{i + 1:6d}\t{lines[i]}" for i in range(start, end))
    return ToolError(
        f"`old` was not found in {shown} (not even ignoring whitespace). The closest lines are "
        f"{start + 1}-{end}:\n{numbered}\nCopy the exact text from the file (without the line "
        "numbers) into `old` and retry; read_file shows the current content.",
        "edit_old_not_found",
    )


def _closest_window(keys: list[str], old_keys: list[str]) -> int:
    """Start of the window most like `old_keys`: a cheap bound for all, exact ratio for a few."""
    n, target = len(old_keys), "\n".join(old_keys)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    bounds = []
    for i in range(len(keys) - n + 1):
        matcher.set_seq1("\n".join(keys[i : i + n]))
        bounds.append((matcher.quick_ratio(), i))
    bounds.sort(key=lambda b: (-b[0], b[1]))
    best = (-1.0, 0)
    for _, i in bounds[:25]:
        matcher.set_seq1("\n".join(keys[i : i + n]))
        best = max(best, (matcher.ratio(), -i))
    return -best[1]
