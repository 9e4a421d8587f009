"""The rules per command: which commands delete, write or act outside the workspace.

`RULES` maps a command's name to its rule; a rule reads the arguments and gives the reason
the command is dangerous, or None. Commands without a rule are not dangerous by their
arguments (what they write through redirections is checked elsewhere). Commands that are
dangerous whatever their arguments (formatting a disk, rebooting) are in `system_reason`.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .arguments import operands, option_values, short_flags, tail
from .git import git_reason
from .git_history import find_reaches_git
from .paths import CHMODS, CHOWNS, EDITS, MOVES, Action, Paths, State
from .shell_syntax import Word

_SYSTEM_COMMANDS = {
    "formats a disk": frozenset({"mkfs", "mke2fs", "mkswap", "mkdosfs", "mkntfs", "newfs"}),
    "partitions a disk": frozenset({"fdisk", "sfdisk", "cfdisk", "gdisk", "sgdisk", "parted"}),
    "wipes a disk": frozenset({"wipefs", "blkdiscard"}),
    "shuts down or reboots the machine": frozenset({"shutdown", "reboot", "halt", "poweroff"}),
    "signals processes outside the workspace": frozenset({"pkill", "killall", "killall5"}),
}
_POWER_ACTIONS = frozenset({"poweroff", "reboot", "halt", "kexec", "soft-reboot", "rescue",
                            "emergency"})
_COPY_VALUE_OPTIONS = {
    "cp": frozenset({"-t", "-S", "--suffix", "--target-directory"}),
    "mv": frozenset({"-t", "-S", "--suffix", "--target-directory"}),
    "ln": frozenset({"-t", "-S", "--suffix", "--target-directory"}),
    "install": frozenset({"-t", "-S", "-m", "-o", "-g", "--mode", "--owner", "--group", "--suffix",
                          "--target-directory"}),
    "rsync": frozenset({"-e", "--rsh", "-f", "--filter", "--exclude", "--include", "--exclude-from",
                        "--include-from", "--files-from", "-T", "--temp-dir", "-B", "--backup-dir",
                        "--partial-dir", "--log-file", "--chmod", "--chown", "--password-file"}),
    "scp": frozenset({"-P", "-i", "-o", "-F", "-l", "-c", "-J", "-S", "-D"}),
}
_CREATE_VALUE_OPTIONS = {
    "touch": frozenset({"-d", "-t", "-r", "--date", "--reference"}),
    "mkdir": frozenset({"-m", "--mode", "--context"}),
    "truncate": frozenset({"-s", "-r", "--size", "--reference"}),
    "tee": frozenset(),
}
_SYMBOLIC_MODE = re.compile(r"-[rwxXst]+")
# Options whose value is a file or folder the command writes.
_OUTPUT_OPTIONS = {
    "curl": ("o", ("--output", "--output-dir")),
    "wget": ("OPoa", ("--output-document", "--directory-prefix", "--output-file",
                      "--append-output")),
    "sort": ("o", ("--output",)),
    "unzip": ("d", ()),
}
_GIT_VALUE_OPTIONS = frozenset({"-c", "--namespace", "--config-env", "--exec-path",
                                "--super-prefix", "--list-cmds"})
# Subcommands that only read the repository, wherever it is; `clone` checks its own target.
_GIT_READS = frozenset({"status", "log", "show", "diff", "ls-files", "ls-tree", "ls-remote",
                        "rev-parse", "blame", "grep", "describe", "shortlog", "cat-file",
                        "rev-list", "show-ref", "for-each-ref", "version", "help", "var",
                        "check-ignore", "check-attr", "name-rev", "merge-base", "count-objects",
                        "whatchanged", "clone"})
_GIT_CONFIG_READS = frozenset({"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--list",
                               "-l", "--get-color", "--get-colorbool"})
_GIT_ELSEWHERE = Action("changes a git repository in the home directory",
                        "changes a git repository outside the workspace",
                        "runs git on a repository that cannot be resolved")
_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_SHRED_VALUE_OPTIONS = frozenset({"-n", "-s", "--iterations", "--size"})


@dataclass(frozen=True)
class Context:
    """What a rule sees: the workspace's paths, where the shell is (`cd` changes it), and
    how to check a command the command runs (`find -exec`)."""

    paths: Paths
    state: State
    run: Callable[[list[Word], State], str | None]


Rule = Callable[[Context, str, list[Word]], str | None]


def system_reason(name: str) -> str | None:
    """Why a command is dangerous whatever its arguments (disks, power, killing by name)."""
    base = "mkfs" if name.startswith("mkfs.") else name
    for what, names in _SYSTEM_COMMANDS.items():
        if base in names:
            return f"{what} ({name})"
    return None


def _first(reasons: Iterable[str | None]) -> str | None:
    """The first reason given, checking lazily in order."""
    return next((reason for reason in reasons if reason), None)


# ---- commands that delete

def _delete_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    values = _SHRED_VALUE_OPTIONS if name == "shred" else frozenset()
    return _first(ctx.paths.delete(target, ctx.state.cwd) for target in operands(args, values))


def _found_under(start: Word) -> Word:
    """What find reaches from a start path: the path and everything below it."""
    return Word(start.text.rstrip("/") + "/*", start.raw, unknown=start.unknown, glob=True)


def _with_found(word: Word, found: Word) -> Word:
    if "{}" not in word.text:
        return word
    return Word(word.text.replace("{}", found.text), word.raw,
                unknown=word.unknown or found.unknown, glob=True)


def _find_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    i = 0
    while i < len(args) and args[i].text[:2] in ("-H", "-L", "-P", "-O", "-D", "--"):
        i += 2 if args[i].text == "-D" else 1
    starts = []
    while i < len(args) and not args[i].text.startswith("-") and args[i].text not in ("(", "!"):
        starts.append(args[i])
        i += 1
    found = [_found_under(start) for start in starts or [Word(".", ".")]]
    expression = args[i:]
    found += find_reaches_git(ctx.paths, starts or [Word(".", ".")], expression, ctx.state.cwd)
    if any(w.text == "-delete" for w in expression):
        reason = _first(ctx.paths.delete(word, ctx.state.cwd) for word in found)
        if reason:
            return reason
    return _find_actions(ctx, expression, found)


def _find_actions(ctx: Context, expression: list[Word], found: list[Word]) -> str | None:
    """The commands `-exec ... ;` runs, once per place find may reach."""
    k = 0
    while k < len(expression):
        if expression[k].text in _FIND_ACTIONS:
            end = k + 1
            while end < len(expression) and expression[end].text not in (";", "+"):
                end += 1
            for word in found:
                command = [_with_found(w, word) for w in expression[k + 1:end]]
                reason = ctx.run(command, ctx.state.copy())
                if reason:
                    return reason
            k = end
        k += 1
    return None


# ---- commands that copy, move, create or change files

def _is_remote(word: Word) -> bool:
    return re.match(r"[^/:]*:", word.text) is not None and not word.text.startswith(".")


def _copy_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    found = operands(args, _COPY_VALUE_OPTIONS[name])
    remote_ok = name in ("rsync", "scp")
    targets = [] if remote_ok else option_values(args, "t", ("--target-directory",))
    target = targets[0] if targets else None
    if name == "install" and ("d" in short_flags([w.text for w in args])
                              or any(w.text == "--directory" for w in args)):
        destinations, sources = found, []
    elif target is not None:
        destinations, sources = [target], found
    elif len(found) >= 2:
        destinations, sources = found[-1:], found[:-1]
    elif name == "ln" and found:
        destinations, sources = [Word(".", ".")], found
    else:
        return None
    reason = _first(None if remote_ok and _is_remote(word) else ctx.paths.write(word, ctx.state.cwd)
                    for word in destinations)
    if name == "ln" and not reason:
        _plan_links(ctx, args, sources, destinations[0], target is not None or len(sources) > 1)
    if reason or name != "mv":
        return reason
    return _first(ctx.paths.delete(word, ctx.state.cwd, MOVES) for word in sources)


def _plan_links(ctx: Context, args: list[Word], sources: list[Word], destination: Word,
                into_folder: bool) -> None:
    """Notes the symlinks `ln -s` makes, so that later paths through them resolve."""
    flags = short_flags([w.text for w in args])
    relative = "r" in flags or any(w.text == "--relative" for w in args)
    if not ("s" in flags or relative or any(w.text == "--symbolic" for w in args)):
        return
    places = ctx.paths.places(destination, ctx.state.cwd)
    if not places or len(places) != 1 or places[0].glob:
        return
    where = places[0].text
    into_folder = (into_folder or destination.text.endswith("/") or destination.text in (".", "..")
                   or os.path.isdir(where))
    for source in sources:
        link = posixpath.join(where, posixpath.basename(source.text.rstrip("/"))) if (
            into_folder) else where
        # A link's target is read from the link's folder (from here with `ln -r`).
        found = ctx.paths.places(source, ctx.state.cwd if relative else posixpath.dirname(link))
        known = found[0].text if found and len(found) == 1 and not found[0].glob else None
        ctx.paths.links[link] = None if known is None else ctx.paths.realpath(known)


def _create_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    targets = operands(args, _CREATE_VALUE_OPTIONS[name])
    return _first(ctx.paths.write(target, ctx.state.cwd) for target in targets)


def _permissions_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    found = [w for w in args if not w.text.startswith("-")
             or (name == "chmod" and _SYMBOLIC_MODE.fullmatch(w.text))]
    by_reference = any(w.text.startswith("--reference") for w in args)
    action = CHMODS if name == "chmod" else CHOWNS
    targets = found if by_reference else found[1:]
    return _first(ctx.paths.write(target, ctx.state.cwd, action) for target in targets)


def _sed_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    in_place = script_given = False
    found: list[Word] = []
    i = 0
    while i < len(args):
        text = args[i].text
        if text in ("-e", "--expression", "-f", "--file"):
            script_given = True
            i += 1
        elif text.startswith(("--expression=", "--file=")):
            script_given = True
        elif text.startswith("--in-place"):
            in_place = True
        elif text == "--":
            found.extend(args[i + 1:])
            break
        elif text.startswith("-") and len(text) > 1 and not text.startswith("--"):
            letters, i_flag, suffix = text[1:].partition("i")
            in_place = in_place or bool(i_flag)
            if i_flag and not suffix and i + 1 < len(args) and args[i + 1].text == "":
                i += 1
            if "e" in letters or "f" in letters:
                script_given = True
                i += 1
        elif not text.startswith("--"):
            found.append(args[i])
        i += 1
    if not in_place:
        return None
    targets = found if script_given else found[1:]
    return _first(ctx.paths.write(target, ctx.state.cwd, EDITS) for target in targets)


def _dd_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    return _first(ctx.paths.write(tail(word, word.text[3:]), ctx.state.cwd)
                  for word in args if word.text.startswith("of="))


def _output_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    short, long = _OUTPUT_OPTIONS[name]
    return _first(None if value.text == "-" else ctx.paths.write(value, ctx.state.cwd)
                  for value in option_values(args, short, long))


def _git_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    return git_reason(ctx.paths, args, ctx.state.cwd, ctx.state) or _git_elsewhere(ctx, args)


def _git_elsewhere(ctx: Context, args: list[Word]) -> str | None:
    """Git that changes a repository or work tree outside the workspace (`-C`, `--work-tree`,
    `--git-dir`), or the user's own git configuration (`git config --global`)."""
    cwd, places, i = ctx.state.cwd, [], 0
    while i < len(args) and args[i].text.startswith("-"):
        option, equals, value = args[i].text.partition("=")
        following = args[i + 1] if i + 1 < len(args) else None
        if option in ("--work-tree", "--git-dir"):
            word = tail(args[i], value) if equals else following
            places += [(word, cwd)] if word is not None else []
            i += 1 if equals else 2
        elif option == "-C" and following is not None:
            cwd = ctx.paths.chdir(cwd, following)
            places.append((Word(".", "-C " + following.raw, unknown=cwd is None), cwd))
            i += 2
        else:
            i += 2 if option in _GIT_VALUE_OPTIONS and not equals else 1
    subcommand = args[i].text if i < len(args) else ""
    rest = [w.text for w in args[i + 1:]]
    if subcommand == "config" and ({"--global", "--system"} & set(rest)) and not (
            _GIT_CONFIG_READS & set(rest) or rest[:1] in (["get"], ["list"])):
        return "changes the user's git configuration (git config --global)"
    if not subcommand or subcommand in _GIT_READS:
        return None
    files = option_values(args[i + 1:], "f", ("--file",)) if subcommand == "config" else []
    return _first(ctx.paths.write(word, at, _GIT_ELSEWHERE)
                  for word, at in [*places, *((f, cwd) for f in files)])


# ---- commands that act on processes and the machine

def _kill_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    texts = [w.text for w in args]
    if texts == ["-1"]:
        return "signals every process (kill -1)"
    i = 0
    if texts[:1] in (["-s"], ["-n"]):
        i = 2
    elif texts and texts[0].startswith("-") and texts[0] != "--":
        i = 1
    if texts[i:i + 1] == ["--"]:
        i += 1
    return "signals every process (kill -1)" if "-1" in texts[i:] else None


def _crontab_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    texts = [w.text for w in args]
    if "-u" in texts:
        at = texts.index("-u")
        del texts[at:at + 2]
    if texts == ["-l"]:
        return None
    if "-r" in texts:
        return "removes the crontab (crontab -r)"
    return "replaces or edits the crontab (crontab)"


def _power_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    texts = [w.text for w in args]
    if name == "systemctl":
        action = next((t for t in texts if t in _POWER_ACTIONS), None)
    else:
        action = texts[0] if texts[:1] in (["0"], ["6"]) else None
    return f"shuts down or reboots the machine ({name} {action})" if action else None


# ---- commands that move the shell

def _cd_rule(ctx: Context, name: str, args: list[Word]) -> str | None:
    state = ctx.state
    if name == "popd":
        state.cwd = state.dirstack.pop() if state.dirstack else None
        return None
    found = [w for w in args if w.text == "-" or not w.text.startswith(("-", "+"))]
    if not found:
        new = ctx.paths.home if name == "cd" else None
    elif found[0].text == "-":
        new = state.oldpwd
    else:
        new = ctx.paths.chdir(state.cwd, found[0])
    if name == "pushd":
        state.dirstack.append(state.cwd)
    state.oldpwd, state.cwd = state.cwd, new
    return None


RULES: dict[str, Rule] = {
    **dict.fromkeys(("rm", "rmdir", "unlink", "shred", "srm"), _delete_rule),
    "find": _find_rule,
    **dict.fromkeys(_COPY_VALUE_OPTIONS, _copy_rule),
    **dict.fromkeys(_CREATE_VALUE_OPTIONS, _create_rule),
    **dict.fromkeys(("chmod", "chown", "chgrp"), _permissions_rule),
    "sed": _sed_rule,
    "dd": _dd_rule,
    **dict.fromkeys(_OUTPUT_OPTIONS, _output_rule),
    "git": _git_rule,
    "kill": _kill_rule,
    "crontab": _crontab_rule,
    **dict.fromkeys(("systemctl", "init", "telinit"), _power_rule),
    **dict.fromkeys(("cd", "pushd", "popd"), _cd_rule),
}
