"""Search tools: list_files and grep, over the workspace's files as git sees them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from gemma_code.agent.protocols import ToolContext, ToolError, ToolResult

from gemma_code.agent.safety.secrets import secret_reason

from .textfile import iter_raw_lines, sniff_binary

MAX_PATHS = 500
MAX_MATCHES = 200
MAX_MATCH_CHARS = 300
GREP_LINE_BYTES = 1 << 20  # grep looks at the first 1 MiB of a very long line

def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over /-separated paths.

    `**` spans folders, `*` and `?` do not, `[abc]`/`[!abc]` are classes, `{a,b}` alternates.
    """
    return re.compile("(?s:" + _glob_body(pattern) + r")\Z")


def _glob_body(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 1)) != -1:
            body = pattern[i:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        elif c == "{" and (end := pattern.find("}", i)) != -1:
            choices = pattern[i:end].split(",")
            out.append("(?:" + "|".join(_glob_body(ch) for ch in choices) + ")")
            i = end + 1
        else:
            out.append(re.escape(c))
    return "".join(out)


class PathFilter:
    """A file glob: without `/` it matches names (`*.py`), else paths under the search folder."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern.strip().removeprefix("./")
        self.on_name = "/" not in self.pattern
        self.regex = glob_regex(self.pattern) if self.pattern else None

    def __call__(self, rel: str) -> bool:
        if self.regex is None:
            return True
        return bool(self.regex.match(rel.rsplit("/", 1)[-1] if self.on_name else rel))


def _search_root(ctx: ToolContext, path: str) -> tuple[Path, str]:
    resolved = ctx.workspace.resolve(path.strip() or ".")
    shown = ctx.workspace.relative(resolved)
    if not resolved.exists():
        raise ToolError(
            f"{shown} does not exist; call list_files with no path to see the workspace.",
            "path_not_found",
        )
    return resolved, shown


def _under(path: Path, start: Path) -> str:
    return path.name if start.is_file() else path.relative_to(start).as_posix()


class ListFiles:
    """List the files in the workspace, skipping what .gitignore ignores."""

    name: ClassVar[str] = "list_files"
    description: ClassVar[str] = (
        "List files in a folder and its subfolders (skips files ignored by .gitignore). "
        "Use pattern to filter, e.g. '*.py' (any folder) or 'src/**/*.ts'."
    )
    mutating: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(default=".", description="Folder to list; the workspace root if omitted.")
        pattern: str = Field(
            default="",
            description="Optional glob filter: '*.py' matches file names in any folder; with a '/' "
            "('src/**/*.py') it matches paths under the folder.",
        )

    def __call__(self, args: ListFiles.Args, ctx: ToolContext) -> ToolResult:
        start, shown = _search_root(ctx, args.path)
        keep = PathFilter(args.pattern)
        files = [
            f for f in ctx.workspace.files(start, ctx.cancel) if keep(_under(f, start))
        ]
        where = f"{shown}" + (f" matching {args.pattern}" if args.pattern else "")
        if not files:
            return ToolResult.text(f"no files in {where}.", summary=f"listed {where}: no files")
        lines = [ctx.workspace.relative(f) for f in files[:MAX_PATHS]]
        if len(files) > MAX_PATHS:
            lines.append(
                f"... {len(files) - MAX_PATHS} more files not shown; narrow with path or pattern."
            )
        summary = f"listed {len(files)} files in {where}"
        return ToolResult.text("\n".join(lines) + "\n", summary=summary)


class Grep:
    """Search file contents with a regular expression."""

    name: ClassVar[str] = "grep"
    description: ClassVar[str] = (
        "Search the text of files for a Python regular expression; prints 'path:line: text' "
        "for each matching line. Skips binary and .gitignore'd files. Use (?i) to ignore case."
    )
    mutating: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pattern: str = Field(
            description="Python regular expression to search for, e.g. 'def \\w+_test'."
        )
        path: str = Field(
            default=".", description="File or folder to search; the workspace root if omitted."
        )
        glob: str = Field(
            default="", description="Optional: only search files matching this glob, e.g. '*.py'."
        )

    def __call__(self, args: Grep.Args, ctx: ToolContext) -> ToolResult:
        if not args.pattern:
            raise ToolError("pattern is empty; give a regular expression to search for.")
        try:
            regex = re.compile(args.pattern)
        except re.error as exc:
            raise ToolError(f"invalid regular expression {args.pattern!r}: {exc}") from None
        start, shown = _search_root(ctx, args.path)
        if start.is_file() and sniff_binary(start):
            raise ToolError(f"{shown} is a binary file; grep only searches text files.")
        keep = PathFilter(args.glob)
        files = [
            f for f in ctx.workspace.files(start, ctx.cancel) if keep(_under(f, start))
        ]
        secrets: list[Path] = []
        if not start.is_file():  # a secret named directly was approved by the person already
            secrets = [f for f in files if secret_reason(f) is not None]
            skip = set(secrets)
            files = [f for f in files if f not in skip]
        hits: list[str] = []
        total = matched_files = 0
        for file in files:
            if ctx.cancel.is_set():
                break
            found = _grep_file(file, regex, ctx.workspace.relative(file), hits)
            total += found
            matched_files += bool(found)
        result = _grep_result(args.pattern, shown, hits, total, matched_files)
        if secrets:
            # As named in the workspace: a link to a secret shows under its own name.
            names = ", ".join(f.relative_to(ctx.workspace.root).as_posix() for f in secrets[:5])
            result = result.with_note(
                f"(not searched: {len(secrets)} file(s) that look like secrets, e.g. {names}; "
                "read_file asks the user before reading one)"
            )
        return result


def _grep_file(path: Path, regex: re.Pattern[str], shown: str, hits: list[str]) -> int:
    """Count the matching lines of one file, appending them to `hits` while there is room."""
    try:
        if sniff_binary(path):
            return 0
        count = 0
        with path.open("rb") as f:
            for number, (raw, _) in enumerate(iter_raw_lines(f, GREP_LINE_BYTES), start=1):
                line = raw.decode("utf-8", errors="replace")
                if regex.search(line):
                    count += 1
                    if len(hits) < MAX_MATCHES:
                        hits.append(f"{shown}:{number}: {_clip(line)}")
        return count
    except OSError:
        return 0  # vanished or unreadable while searching


def _clip(line: str) -> str:
    line = line.strip()
    if len(line) <= MAX_MATCH_CHARS:
        return line
    return line[:MAX_MATCH_CHARS] + f" [... {len(line) - MAX_MATCH_CHARS} more chars]"


def _grep_result(pattern: str, shown: str, hits: list[str], total: int, files: int) -> ToolResult:
    if not hits:
        return ToolResult.text(
            f"no matches for {pattern!r} in {shown}.", summary=f"grep {pattern!r}: no matches"
        )
    text = "\n".join(hits)
    if total > len(hits):
        text += (
            f"\n... {total - len(hits)} more matching lines not shown; narrow with path or glob."
        )
    summary = f"grep {pattern!r}: {total} matches in {files} files"
    return ToolResult.text(text + "\n", summary=summary)
