"""The system prompt: who the agent is, where it works, how to use its tools."""

from __future__ import annotations

import platform
from datetime import date
from pathlib import Path

from .host_git import host_repo

_INTRO = "You are gemma-code, a coding agent working in the user's repository on their own machine."
_RULES = """\
Make the smallest change that does what the user asked, then check it (run it or its tests)
when you can. Call one tool at a time and wait for its result. When the task is done, answer
briefly in plain text without calling a tool: say what you changed and how you checked it.
Paths are relative to the workspace root: a bare file name like `notes.md` means the file
at the root, so do not invent folders the user did not ask for."""
_CHANGING = {
    ("edit_file", "write_file"): "Change files with edit_file (exact old text -> new text) or "
                                 "write_file (whole new files).",
    ("edit_file",): "Change files with edit_file (exact old text -> new text).",
    ("write_file",): "Change a file by sending its whole new content with write_file: read it "
                     "first, and keep every line you do not mean to change.",
}


def _tool_guide(names: list[str]) -> str:
    """How to use the tools offered, naming only those."""
    finders = " and ".join(n for n in ("list_files", "grep") if n in names)
    parts = []
    if "read_file" in names:
        found = f"{finders} to find code, " if finders else ""
        parts.append(f"Use the tools to look before you change anything: {found}read_file to read it.")
    changing = tuple(n for n in ("edit_file", "write_file") if n in names)
    if changing:
        parts.append(_CHANGING[changing])
    if "run_shell" in names:
        parts.append("Use run_shell to run tests, scripts and git.")
    return " ".join(parts)


def git_branch(root: Path) -> str | None:
    """The checked-out branch (also with no commit yet; "HEAD" when detached), or None.

    Read from the repository pinned at session start (`host_git`), without running git.
    """
    return host_repo(root).branch()


def _top_level(root: Path, limit: int = 40) -> str:
    names = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in root.iterdir()
        if not p.name.startswith(".") or p.name in (".gitignore", ".gemma-code.toml")
    )
    shown = names[:limit]
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return " ".join(shown) + more if shown else "(empty)"


def system_prompt(root: Path, tool_names: list[str]) -> str:
    """Who the agent is, how to use `tool_names`, and where it works (the same every turn)."""
    branch = git_branch(root)
    repo = f"git repository, branch {branch}" if branch else "not a git repository"
    guide = "\n".join(part for part in (_INTRO, _tool_guide(tool_names), _RULES) if part)
    return (
        f"{guide}\n\n"
        f"Workspace: {root} ({repo})\n"
        f"Top level: {_top_level(root)}\n"
        f"System: {platform.system()} {platform.machine()}, today is {date.today().isoformat()}"
    )


_INIT = """\
Call write_file to write AGENTS.md at the workspace root: short notes for a coding agent that
will work in this repository. Base them on the repository map and the files above (read_file
others if you must; run no commands). Write only what the files show: invent no commands,
tools or rules. Under 60 lines of Markdown, with these sections:
- a title and one or two sentences on what the project is;
- Layout: the main folders and files, and what each holds;
- Commands: install, build, lint, each in backticks, and this line as it is:
  {test}
- Conventions: language version, style, naming, where tests go.{existing}{request}
Do not answer with the text: call write_file with path "AGENTS.md" and the whole file as
content. Then answer with one sentence."""


def init_prompt(test_command: str | None, exists: bool, request: str = "") -> str:
    """What `gemma-code init` and `/init` ask of the model: write (or improve) AGENTS.md."""
    test = (f"Test: `{test_command}`" if test_command
            else "Test: `command` (only if the files show how the tests run)")
    existing = ("\nAGENTS.md exists (shown above): improve it, do not start over. Keep what "
                "is still right and its order, fix what is wrong, add what is missing."
                if exists else "")
    extra = f"\nThe user adds: {request.strip()}" if request.strip() else ""
    return _INIT.format(test=test, existing=existing, request=extra)


INIT_NOT_WRITTEN = ("You answered with text, but AGENTS.md was not written. Call write_file now "
                    'with path "AGENTS.md" and the whole file as content.')
