"""Which git commands destroy what a checkpoint cannot bring back.

Checkpoints restore the workspace's files and the repository's refs, stash and index, not
remotes or what git itself throws away: rewriting remotes asks, and so does history damage
(`git_history`: gc, reflog expiry, `clean -x`, forced branch moves...). Commands that discard
changes in a work tree (`git reset`, `git clean`, ...) are safe in the workspace and ask anywhere
else; `git clone` and `git worktree add` write a folder, which must be inside. Making a
repository (`init`, `clone`, `worktree add`, `submodule add|update`) and setting a config key
that names a program ask too: git outside the sandbox would follow them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .arguments import operands, short_flags
from .git_history import history_reason
from .paths import Paths, State, within
from .shell_syntax import Word

_FORCE_PUSH_OPTIONS = frozenset({"--force", "--force-with-lease", "--force-if-includes"})
_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace",
                            "--config-env"})
_CLONE_VALUE_OPTIONS = frozenset({
    "-b", "--branch", "-o", "--origin", "-c", "--config", "--depth", "--reference", "--template",
    "--separate-git-dir", "-u", "--upload-pack", "-j", "--jobs", "--filter", "--shallow-since",
    "--shallow-exclude", "--server-option", "--reference-if-able"})
_WORKTREE_VALUE_OPTIONS = frozenset({"-b", "-B", "--reason"})
# Safe in the workspace, whose files checkpoints restore; destructive anywhere else.
_WORKTREE_COMMANDS = frozenset({"clean", "reset", "checkout", "restore", "switch", "rm"})
# Settings whose value is a program git runs, or more settings: in a repository they run
# code the next time anyone uses git there, outside the sandbox.
_RUNS_PROGRAMS = re.compile(
    r"core\.(fsmonitor|hookspath|pager|editor|sshcommand|askpass|gitproxy|worktree"
    r"|alternaterefscommand)|diff\.external|sequence\.editor|gpg\.(.+\.)?program"
    r"|credential\.(.+\.)?helper|include\.path|includeif\..+|filter\..+|diff\..+\.(textconv|command)"
    r"|merge\..+\.driver|alias\..+|pager\..+|remote\..+\.(uploadpack|receivepack|proxy)"
    r"|uploadpack\..+|protocol\..*allow|sendemail\..+|.+\.cmd", re.IGNORECASE)
_CONFIG_READS = frozenset({"--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list",
                           "--get-color", "--get-colorbool", "get", "list"})
_CONFIG_VALUE_OPTIONS = frozenset({"-f", "--file", "--blob", "--type", "--default", "--comment"})


def _config(rest: list[str]) -> str | None:
    if any(t in _CONFIG_READS for t in rest):
        return None
    keys = [t for t in rest if not t.startswith("-") and t not in ("set", "unset")]
    skip = {rest[k + 1] for k, t in enumerate(rest[:-1]) if t in _CONFIG_VALUE_OPTIONS}
    key = next((k for k in keys if k not in skip), "")
    if _RUNS_PROGRAMS.fullmatch(key):
        return f"sets a git setting that runs programs (git config {key})"
    return None


def _new_repository(subcommand: str, rest: list[str]) -> str | None:
    """A new repository (or `.git` file) in the workspace: its config and hooks are its own."""
    if subcommand in ("init", "clone") or (subcommand == "worktree" and rest[:1] == ["add"]) or (
            subcommand == "submodule" and {"add", "update"} & set(rest)):
        what = subcommand if subcommand in ("init", "clone") else f"{subcommand} {rest[0]}"
        return (f"creates a git repository (git {what}), whose config and hooks git would "
                "follow outside the sandbox")
    return None


def _push(rest: list[str]) -> str | None:
    flags = short_flags(rest)
    if "--mirror" in rest:
        return "overwrites a remote with a mirror push (git push --mirror)"
    forced = any(t in _FORCE_PUSH_OPTIONS or t.startswith("--force-with-lease=") for t in rest)
    if "f" in flags or forced:
        return "force-pushes to a remote (git push --force)"
    if "d" in flags or "--delete" in rest:
        return "deletes a remote branch (git push --delete)"
    if "--prune" in rest:
        return "deletes remote branches (git push --prune)"
    for refspec in (t for t in rest if not t.startswith("-")):
        if refspec.startswith("+"):
            return f"force-pushes to a remote (git push {refspec})"
        if refspec.startswith(":") and len(refspec) > 1:
            return f"deletes a remote branch (git push {refspec})"
    return None


# Per subcommand: why its arguments make it destructive, or None (history: `git_history`).
_SUBCOMMANDS: dict[str, Callable[[list[str]], str | None]] = {
    "push": _push,
    "config": _config,
}


def git_reason(paths: Paths, args: list[Word], cwd: str | None,
               state: State | None = None) -> str | None:
    """Why `git ARGS`, run in `cwd`, is dangerous, or None (`state`: the line so far)."""
    i = 0
    while i < len(args) and args[i].text.startswith("-"):
        if args[i].text in _VALUE_OPTIONS and i + 1 < len(args):
            if args[i].text == "-C":
                cwd = paths.chdir(cwd, args[i + 1])
            i += 2
        else:
            i += 1
    if i >= len(args):
        return None
    subcommand = args[i].text
    if args[i].unknown:
        return f"runs a git command that cannot be read (git {args[i].raw})"
    check = _SUBCOMMANDS.get(subcommand)
    reason = check([w.text for w in args[i + 1:]]) if check else None
    reason = reason or history_reason(subcommand, [w.text for w in args[i + 1:]], state)
    if reason:
        return reason
    if subcommand in ("init", "clone", "worktree", "submodule"):
        rest = [w.text for w in args[i + 1:]]
        if subcommand in ("clone", "worktree"):
            reason = _destination(paths, subcommand, args[i + 1:], cwd)
        return reason or _new_repository(subcommand, rest)
    if subcommand in _WORKTREE_COMMANDS and (
            cwd is None or not within(os.path.realpath(cwd), paths.root)):
        return f"discards changes outside the workspace (git {subcommand})"
    return None


def _destination(paths: Paths, subcommand: str, rest: list[Word], cwd: str | None) -> str | None:
    """Where `git clone` or `git worktree add` creates its folder."""
    if subcommand == "clone":
        found = operands(rest, _CLONE_VALUE_OPTIONS)
        target = found[1] if len(found) > 1 else Word(".", ".")
    elif rest[:1] and rest[0].text == "add":
        found = operands(rest[1:], _WORKTREE_VALUE_OPTIONS)
        target = found[0] if found else None
    else:
        target = None
    return paths.write(target, cwd) if target else None
