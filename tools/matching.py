"""Edit matching for edit_file: `old` found exactly, else ignoring whitespace, else as the
near-identical lines; a miss names the closest lines."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from gemma_code.agent.protocols import ToolError

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
    # Other readings of the same edit, when `old` and `new` leave it open what was meant
    # (which indentation `new` is in: `_indented_edit`); the caller keeps the first that parses.
    others: tuple[Edit, ...] = ()


_NUMBERED = re.compile(r"^ *(\d+)\t", re.M)


def without_line_numbers(block: str) -> str:
    """`block` without read_file's line numbers, when a model copied them along: every line
    starts with the six-wide number and tab of consecutive lines. Anything else is kept."""
    lines = block.removesuffix("\n").split("\n")
    found = [_NUMBERED.match(line) for line in lines]
    if not all(m is not None and m.end() == 7 for m in found):
        return block
    numbers = [int(m.group(1)) for m in found]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return block
    return "\n".join(line[7:] for line in lines) + ("\n" if block.endswith("\n") else "")


# A whole file's text sent wrapped as a chat answer would show it: a Markdown fence around
# all of it, or HTML's <pre><code>. Files that may hold such text themselves are left alone.
_FENCED = re.compile(r"\A```[\w+#.-]*[ \t]*\n(.*?\n?)```[ \t]*\n?\Z", re.S)
_PRE_CODE = re.compile(r"\A\s*<pre>\s*<code[^>]*>(.*?)</code>\s*</pre>\s*\Z", re.S)
_MARKUP_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt", ".html", ".htm", ".xml", ".svg")


def without_wrapper(content: str, path: str) -> str:
    """`content` out of a fence or `<pre><code>` that wraps all of it, unless `path` is a
    file (Markdown, HTML, text) where such a wrapper may be meant."""
    if path.lower().endswith(_MARKUP_SUFFIXES):
        return content
    found = _FENCED.match(content)
    if found and not re.search(r"^```", found.group(1), re.M):  # one fence, not several blocks
        return found.group(1)
    if found := _PRE_CODE.match(content):
        import html

        return html.unescape(found.group(1)).lstrip("\n")
    return content


def find_edit(text: str, old: str, new: str, *, replace_all: bool, shown: str) -> Edit:
    """`old` -> `new` in `text`: exact, else ignoring whitespace, else near-identical lines."""
    if not old:
        raise ToolError(
            "`old` is empty. To insert text, copy a few existing lines next to the spot into "
            "`old` and put the same lines plus your addition in `new`; to create a new file, "
            "use write_file."
        )
    count = text.count(old)
    if count == 1 and (indented := _indented_edit(text, old, new)) is not None:
        return indented
    if count == 1 or (count > 1 and replace_all):
        note = f"Replaced {count} occurrences." if count > 1 else ""
        return Edit(text.replace(old, new), note)
    if count > 1:
        starts = _match_starts(text, old)
        lines = [text.count("\n", 0, i) + 1 for i in starts]
        span = old.removesuffix("\n").count("\n")
        raise _ambiguous(shown, [(n, n + span) for n in lines], "`old` appears")
    return _tolerant_edit(text, _split_block(old), _split_block(new), replace_all, shown)


def _indented_edit(text: str, old: str, new: str) -> Edit | None:
    """The edit with `new`'s later lines indented like the line `old` starts in, when `old` is
    one line found after that line's indentation and `new` has several lines.

    `old = "def f(self):"` found in `"    def f(self):"` says the model wrote from column 0:
    `new`'s next lines are then most likely in that frame too (a body at 4 spaces meaning 8),
    unless all of them are deeper than `old`'s line already. The edit as written is kept in
    `others`, for a caller that checks which one parses.
    """
    if "\n" in old.removesuffix("\n") or "\n" not in new.removesuffix("\n"):
        return None
    at = text.index(old)
    indent = text[text.rfind("\n", 0, at) + 1 : at]
    if not indent or indent.strip():
        return None
    head, *rest = new.split("\n")
    shifted_rest = in_files_frame(rest, indent)
    if shifted_rest is rest:
        return None
    shifted = "\n".join([head, *shifted_rest])
    as_written = Edit(text.replace(old, new))
    note = ("`old` began after the indentation of its line, so `new`'s other lines were "
            "indented by the same amount. Check the diff.")
    return Edit(text.replace(old, shifted), note, others=(as_written,))


def in_files_frame(lines: list[str], indent: str) -> list[str]:
    """`lines` that follow a line indented `indent`, shifted by `indent` when they were
    written from column 0 (the same list when they are deeper than it already)."""
    if not indent or min((len(indent_of(x)) for x in lines if x.strip()), default=0) > len(indent):
        return lines
    return [indent + line if line.strip() else line for line in lines]


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
    if not any(_key(line) for line in old):
        raise ToolError(f"`old` (only whitespace) was not found in {shown}.", "edit_old_not_found")
    for key, ignoring in _LOOSER_KEYS:
        found = keys if key is _key else [key(line) for line in lines[:body]]
        hits = _hits(found, [key(line) for line in old])
        if len(hits) > 1 and not replace_all:
            raise _ambiguous(
                shown, [(i + 1, i + len(old)) for i in hits], f"`old` (ignoring {ignoring}) appears"
            )
        if hits:
            return _replace_lines(lines, hits, old, new, ignoring)
    return _similar_edit(lines, keys, old, new, shown)


def _quote_blind_key(line: str) -> str:
    # Small models often write 'A' for "A": in most languages the same string.
    return _key(line).replace("'", '"')


_LOOSER_KEYS = ((_key, "whitespace"), (_quote_blind_key, "whitespace and quote style"))


def _hits(keys: list[str], old_keys: list[str]) -> list[int]:
    n = len(old_keys)
    return [i for i in range(len(keys) - n + 1) if keys[i : i + n] == old_keys]


def _replace_lines(lines: list[str], hits: list[int], old: list[str], new: list[str],
                   ignoring: str) -> Edit:
    n = len(old)
    chosen = _non_overlapping(hits, n)
    for i in reversed(chosen):
        lines[i : i + n] = _reindent(new, old, lines[i : i + n])
    where = ", ".join(f"{i + 1}-{i + n}" for i in chosen[:MAX_LISTED])
    note = (f"`old` did not match exactly; it matched lines {where} when ignoring {ignoring}, "
            "and `new` was re-indented to fit. Check the diff.")
    return Edit("\n".join(lines), note)


def _non_overlapping(hits: list[int], n: int) -> list[int]:
    chosen: list[int] = []
    for i in hits:
        if not chosen or i >= chosen[-1] + n:
            chosen.append(i)
    return chosen


def indent_of(line: str) -> str:
    """The whitespace a line starts with."""
    return line[: len(line) - len(line.lstrip())]


def _reindent(new: list[str], old: list[str], found: list[str]) -> list[str]:
    """`new` shifted by the indentation difference between `old` and the lines it matched."""
    first = next(i for i, line in enumerate(old) if line.strip())
    old_indent, file_indent = indent_of(old[first]), indent_of(found[first])
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
