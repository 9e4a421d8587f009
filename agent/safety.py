"""Which bash command lines destroy data or reach outside the workspace.

`dangerous_command` says why a command line destroys data that a checkpoint cannot
bring back or reaches outside the workspace: deleting or writing elsewhere, rewriting
a remote, running a downloaded script, acting as another user, stopping the machine.
The registry asks before such a command in every approval mode, `auto` included.

The line is read with `shell_syntax`, and `cd` is followed from one command to the
next, as are wrappers such as `env`, `timeout`, `xargs` or `bash -c`. Any expansion
other than `~`, `$HOME` and `$PWD` where a path is expected makes that path unknown,
and an unknown target of a destructive command counts as dangerous. It is a safety
net, not a sandbox: code handed to interpreters (`python -c`), commands run on other
hosts and scripts on disk are not looked into.

`secret_reason` lives in `secrets` and is re-exported here.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .secrets import secret_reason
from .shell_syntax import PWD_MARK, Command, Lexer, Op, ParseError, Pipeline, Word, parse

__all__ = ["dangerous_command", "secret_reason"]

_WRITE_REDIRECTIONS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_GLOB_CHARS = re.compile(r"[*?\[]")
_BRACE_GROUP = re.compile(r"\{([^{}]*,[^{}]*)\}")
_MAX_DEPTH = 8


def _defines_fork_bomb(tokens: list[Word | Op]) -> bool:
    """A function whose body starts copies of itself in a pipe or the background."""
    for k in range(len(tokens) - 2):
        name, opening, closing = tokens[k:k + 3]
        if not (isinstance(name, Word) and opening == Op("(") and closing == Op(")")):
            continue
        body: list[Word | Op] = []
        for token in tokens[k + 3:]:
            if isinstance(token, Word) and token.text == "}":
                break
            body.append(token)
        calls = sum(isinstance(t, Word) and t.text == name.text for t in body)
        if calls >= 2 and any(isinstance(t, Op) and t.text in ("|", "&") for t in body):
            return True
    return False


# ---------------------------------------------------------------------- commands

_KEYWORDS = frozenset({"!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done",
                       "while", "until", "esac"})
_NOT_RUN = frozenset({"for", "case", "select", "function", "in"})
_PRIVILEGED = frozenset({"sudo", "su", "doas", "pkexec", "runuser", "sudoedit"})
# Commands that run the rest of their arguments: options that take a value, and how
# many positional arguments come before the command (the duration of `timeout`).
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "env": (frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}), 0),
    "command": (frozenset(), 0),
    "builtin": (frozenset(), 0),
    "exec": (frozenset({"-a"}), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "nohup": (frozenset(), 0),
    "time": (frozenset({"-f", "--format", "-o", "--output"}), 0),
    "timeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
    "stdbuf": (frozenset({"-i", "-o", "-e"}), 0),
    "ionice": (frozenset({"-c", "-n", "-p", "-P", "-u"}), 0),
    "setsid": (frozenset(), 0),
    "busybox": (frozenset(), 0),
    "sudo": (frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T",
                        "--user", "--group", "--chdir", "--prompt"}), 0),
    "doas": (frozenset({"-u", "-C"}), 0),
    "pkexec": (frozenset({"--user"}), 0),
    "runuser": (frozenset({"-u", "-g", "-G", "--user", "--group"}), 0),
}
_XARGS_VALUE_OPTIONS = frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file",
                                  "--delimiter", "--eof", "--max-lines", "--max-args",
                                  "--max-procs", "--max-chars", "--process-slot-var"})
_SYSTEM_COMMANDS = {
    "formats a disk": frozenset({"mkfs", "mke2fs", "mkswap", "mkdosfs", "mkntfs", "newfs"}),
    "partitions a disk": frozenset({"fdisk", "sfdisk", "cfdisk", "gdisk", "sgdisk", "parted"}),
    "wipes a disk": frozenset({"wipefs", "blkdiscard"}),
    "shuts down or reboots the machine": frozenset({"shutdown", "reboot", "halt", "poweroff"}),
    "signals processes outside the workspace": frozenset({"pkill", "killall", "killall5"}),
}
_POWER_ACTIONS = frozenset({"poweroff", "reboot", "halt", "kexec", "soft-reboot", "rescue",
                            "emergency"})
_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "http", "https", "xh"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"})
_PYTHON = re.compile(r"(?:python|pypy)[0-9.]*")
# Per interpreter: option letters that hand it the program inline (`-c`, `-e`, `-m`),
# option letters that take the next word as their value (`bash -o pipefail`), and
# long options that take a value.
_INTERPRETERS: dict[str, tuple[str, str, frozenset[str]]] = {
    "shell": ("c", "oO", frozenset({"+o", "+O", "--rcfile", "--init-file"})),
    "python": ("cm", "WX", frozenset()),
    "perl": ("eE", "IMm", frozenset()),
    "ruby": ("e", "Ir", frozenset()),
    "node": ("ep", "r", frozenset({"--require", "--import", "--loader"})),
}
_LONG_CODE_OPTIONS = frozenset({"--eval", "--print", "--command"})
_STDIN_FILES = frozenset({"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
_SCRIPT_RUNNERS = frozenset({"eval", "source", "."})


@dataclass
class _Call:
    words: list[Word]
    privileged: str | None = None


def _name_of(word: Word) -> str:
    return posixpath.basename(word.text)


def _after_options(
    args: list[Word], value_options: frozenset[str], positionals: int
) -> list[Word]:
    i = 0
    while i < len(args) and args[i].text.startswith("-") and args[i].text != "-":
        if args[i].text == "--":
            i += 1
            break
        i += 2 if args[i].text in value_options else 1
    return args[i + positionals:]


def _xargs_command(args: list[Word]) -> list[Word]:
    """The command xargs runs, its input standing in as unknown words."""
    replace, i = None, 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if not text.startswith("-") or text == "-":
            break
        if text == "-I" and i + 1 < len(args):
            replace = args[i + 1].text
        elif text.startswith("-I"):
            replace = text[2:]
        elif text.startswith(("-i", "--replace")):
            replace = text[2:] if text.startswith("-i") else text.partition("=")[2]
            replace = replace or "{}"
        i += 2 if text in _XARGS_VALUE_OPTIONS else 1
    command = args[i:]
    if not command:
        return []
    if replace:
        return [Word(w.text, w.raw, unknown=True) if replace in w.text else w for w in command]
    return [*command, Word("", "input of xargs", unknown=True)]


def _unwrap(words: list[Word]) -> _Call:
    """Strips assignments, keywords and wrapper commands down to the command that runs."""
    privileged = None
    while words:
        first = words[0]
        name = _name_of(first)
        if _ASSIGNMENT.match(first.raw) or name in _KEYWORDS:
            words = words[1:]
            continue
        if name in _NOT_RUN or (name == "command" and words[1:2] and words[1].text in ("-v", "-V")):
            return _Call([], privileged)
        if name in _PRIVILEGED:
            privileged = privileged or name
        if name == "xargs":
            words = _xargs_command(words[1:])
            continue
        spec = _WRAPPERS.get(name)
        if spec is None:
            break
        words = _after_options(words[1:], *spec)
    return _Call(words, privileged)


def _interpreter_family(name: str) -> str | None:
    if name in _SHELLS:
        return "shell"
    if _PYTHON.fullmatch(name):
        return "python"
    return {"perl": "perl", "ruby": "ruby", "node": "node", "nodejs": "node"}.get(name)


def _program(family: str, args: list[Word]) -> tuple[str, Word | None]:
    """Where an interpreter takes its program from: "stdin", "inline" or "file"."""
    code_letters, value_letters, value_options = _INTERPRETERS[family]
    i = 0
    while i < len(args):
        text = args[i].text
        following = args[i + 1] if i + 1 < len(args) else None
        if text == "-":
            return "stdin", None
        if text == "--":
            return ("file", following) if following else ("stdin", None)
        if text in _LONG_CODE_OPTIONS:
            return "inline", following
        if text in value_options:
            i += 2
            continue
        if text.startswith("-") and not text.startswith("--"):
            skip = 1
            for k, letter in enumerate(text[1:], start=1):
                attached = k + 1 < len(text)
                if letter in code_letters:
                    return "inline", args[i] if attached and family != "shell" else following
                if letter in value_letters:
                    skip = 1 if attached and family != "shell" else 2
                    break
            else:
                if family == "shell" and "s" in text:
                    return "stdin", None
            i += skip
            continue
        if text.startswith(("--", "+")):
            i += 1
            continue
        return ("stdin", None) if text in _STDIN_FILES else ("file", args[i])
    return "stdin", None


def _reads_program_from_stdin(name: str, args: list[Word]) -> bool:
    if name in ("source", "."):
        return bool(args) and args[0].text in _STDIN_FILES
    family = _interpreter_family(name)
    return family is not None and _program(family, args)[0] == "stdin"


def _system_reason(name: str) -> str | None:
    base = "mkfs" if name.startswith("mkfs.") else name
    for what, names in _SYSTEM_COMMANDS.items():
        if base in names:
            return f"{what} ({name})"
    return None


def _operands(args: list[Word], value_options: frozenset[str] = frozenset()) -> list[Word]:
    """The arguments that are not options (GNU style: options may come anywhere)."""
    operands, i, options_done = [], 0, False
    while i < len(args):
        text = args[i].text
        if options_done or text == "-" or not text.startswith("-"):
            operands.append(args[i])
        elif text == "--":
            options_done = True
        elif text in value_options:
            i += 1
        i += 1
    return operands


def _tail(word: Word, text: str) -> Word:
    """A word made of the end of another (an option's attached value)."""
    unknown = word.unknown and ("$" in text or "`" in text)
    raw = word.raw if unknown else text
    return Word(text, raw, unknown=unknown, glob=word.glob, brace=word.brace)


def _option_values(args: list[Word], short: str, long: tuple[str, ...]) -> list[Word]:
    """The values given to the options `-x` (x in `short`, clusters allowed) and `--long`."""
    values: list[Word | None] = []
    for i, word in enumerate(args):
        text = word.text
        following = args[i + 1] if i + 1 < len(args) else None
        if text.startswith("--"):
            name, equals, value = text.partition("=")
            if name in long:
                values.append(_tail(word, value) if equals else following)
        elif text.startswith("-"):
            for k, letter in enumerate(text[1:], start=1):
                if letter in short:
                    rest = text[k + 1:]
                    values.append(_tail(word, rest) if rest else following)
                    break
    return [value for value in values if value is not None]


def _short_flags(texts: list[str]) -> set[str]:
    clusters = (t[1:] for t in texts if t.startswith("-") and not t.startswith("--"))
    return {letter for cluster in clusters for letter in cluster}


def _expand_braces(text: str, limit: int = 64) -> list[str] | None:
    done: list[str] = []
    pending = [text]
    while pending:
        current = pending.pop()
        match = _BRACE_GROUP.search(current)
        if match is None:
            done.append(current)
        else:
            head, tail = current[:match.start()], current[match.end():]
            pending.extend(head + option + tail for option in match.group(1).split(","))
        if len(done) + len(pending) > limit:
            return None
    return done


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _real_parent(path: str) -> str:
    """The path with its folders resolved but not its last part (rm removes a link itself)."""
    head, tail = posixpath.split(path)
    return posixpath.join(os.path.realpath(head), tail) if tail else os.path.realpath(path)


def _is_remote(word: Word) -> bool:
    return re.match(r"[^/:]*:", word.text) is not None and not word.text.startswith(".")


def _found_under(start: Word) -> Word:
    """What find reaches from a start path: the path and everything below it."""
    return Word(start.text.rstrip("/") + "/*", start.raw, unknown=start.unknown, glob=True)


def _with_found(word: Word, found: Word) -> Word:
    if "{}" not in word.text:
        return word
    return Word(word.text.replace("{}", found.text), word.raw,
                 unknown=word.unknown or found.unknown, glob=True)


# ------------------------------------------------------------------------ git

_FORCE_PUSH_OPTIONS = frozenset({"--force", "--force-with-lease", "--force-if-includes"})


def _git_push(rest: list[str]) -> str | None:
    flags = _short_flags(rest)
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


def _git_stash(rest: list[str]) -> str | None:
    if rest[:1] in (["drop"], ["clear"]):
        return f"throws away stashed changes (git stash {rest[0]})"
    return None


def _git_branch(rest: list[str]) -> str | None:
    flags = _short_flags(rest)
    deleting = "d" in flags or "--delete" in rest
    forced = "f" in flags or "--force" in rest
    if "D" in flags or (deleting and forced):
        return "force-deletes a branch (git branch -D)"
    return None


def _git_reflog(rest: list[str]) -> str | None:
    if rest[:1] in (["expire"], ["delete"]):
        return f"deletes reflog entries (git reflog {rest[0]})"
    return None


def _git_gc(rest: list[str]) -> str | None:
    if "--prune=now" in rest or "--prune=all" in rest:
        return "deletes unreachable commits (git gc --prune=now)"
    return None


def _git_prune(rest: list[str]) -> str | None:
    if "-n" in rest or "--dry-run" in rest:
        return None
    return "deletes unreachable commits (git prune)"


def _git_update_ref(rest: list[str]) -> str | None:
    if "-d" in rest or "--delete" in rest:
        return "deletes a ref (git update-ref -d)"
    return None


_GIT_CHECKS: dict[str, Callable[[list[str]], str | None]] = {
    "push": _git_push,
    "stash": _git_stash,
    "branch": _git_branch,
    "reflog": _git_reflog,
    "gc": _git_gc,
    "prune": _git_prune,
    "update-ref": _git_update_ref,
}
_GIT_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace",
                                "--config-env"})
_GIT_CLONE_VALUE_OPTIONS = frozenset({
    "-b", "--branch", "-o", "--origin", "-c", "--config", "--depth", "--reference", "--template",
    "--separate-git-dir", "-u", "--upload-pack", "-j", "--jobs", "--filter", "--shallow-since",
    "--shallow-exclude", "--server-option", "--reference-if-able"})
_GIT_WORKTREE_VALUE_OPTIONS = frozenset({"-b", "-B", "--reason"})
# Safe in the workspace, whose files checkpoints restore; destructive anywhere else.
_GIT_WORKTREE_COMMANDS = frozenset({"clean", "reset", "checkout", "restore", "switch", "rm"})


# ---------------------------------------------------------------------- paths


@dataclass(frozen=True)
class _Action:
    """How to word a change to a path, by where the path is."""

    home: str
    outside: str
    unknown: str
    itself: str = ""


_DELETES = _Action("deletes files in the home directory", "deletes files outside the workspace",
                   "deletes a path that cannot be resolved", "deletes the workspace itself")
_MOVES = _Action("moves files out of the home directory", "moves files from outside the workspace",
                 "moves a path that cannot be resolved", "moves the workspace itself")
_WRITES = _Action("writes to the home directory", "writes outside the workspace",
                  "writes to a path that cannot be resolved")
_EDITS = _Action("edits files in the home directory", "edits files outside the workspace",
                 "edits a path that cannot be resolved")
_CHMODS = _Action("changes permissions in the home directory",
                  "changes permissions outside the workspace",
                  "changes permissions of a path that cannot be resolved")
_CHOWNS = _Action("changes ownership in the home directory",
                  "changes ownership outside the workspace",
                  "changes ownership of a path that cannot be resolved")

_SINKS = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin",
                    "/dev/tty"})
_SCRATCH_DIRS = tuple(sorted(
    {os.path.realpath(d) for d in ("/tmp", "/var/tmp", tempfile.gettempdir())}))

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
_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_SHRED_VALUE_OPTIONS = frozenset({"-n", "-s", "--iterations", "--size"})


@dataclass(frozen=True)
class _Place:
    text: str
    directory: str
    glob: bool


@dataclass
class _State:
    """Where the shell is as it works through a line."""

    cwd: str | None
    oldpwd: str | None = None
    dirstack: list[str | None] = field(default_factory=list)

    def copy(self) -> _State:
        return _State(self.cwd, self.oldpwd, list(self.dirstack))

    def restore(self, other: _State) -> None:
        self.cwd, self.oldpwd, self.dirstack = other.cwd, other.oldpwd, other.dirstack


class _Checker:
    def __init__(self, root: str, home: str) -> None:
        self.root = root
        self.home = home
        self.scratch = [d for d in _SCRATCH_DIRS if not _within(home, d)]

    def check(self, source: str, state: _State, depth: int = 0) -> str | None:
        if depth > _MAX_DEPTH:
            return "nests commands too deeply to check"
        try:
            tokens = Lexer(source, self.home).tokens()
            items = parse(tokens)
        except ParseError as exc:
            return f"cannot be parsed safely ({exc})"
        if _defines_fork_bomb(tokens):
            return "defines a fork bomb"
        saved: list[_State] = []
        for item in items:
            if item == "(":
                saved.append(state.copy())
            elif item == ")":
                if saved:
                    state.restore(saved.pop())
            else:
                reason = self._pipeline(item, state, depth)  # type: ignore[arg-type]
                if reason:
                    return reason
        return None

    def _pipeline(self, pipeline: Pipeline, state: _State, depth: int) -> str | None:
        for command in pipeline:
            for word in [*command.words, *(target for _, target in command.redirects)]:
                for sub in word.subs:
                    reason = self.check(sub, state.copy(), depth + 1)
                    if reason:
                        return reason
        reason = self._pipes_download(pipeline)
        if reason:
            return reason
        for command in pipeline:
            reason = self._redirects(command, state) or self._run(command.words, state, depth)
            if reason:
                return reason
        return None

    def _pipes_download(self, pipeline: Pipeline) -> str | None:
        downloading = False
        for command in pipeline:
            words = _unwrap(command.words).words
            if not words:
                continue
            name = _name_of(words[0])
            if downloading and _reads_program_from_stdin(name, words[1:]):
                kind = "a shell" if _interpreter_family(name) == "shell" else "an interpreter"
                return f"pipes a download into {kind} ({name})"
            downloading = downloading or name in _DOWNLOADERS
        return None

    def _redirects(self, command: Command, state: _State) -> str | None:
        for op, target in command.redirects:
            if op not in _WRITE_REDIRECTIONS:
                continue
            if op == ">&" and (target.text.isdigit() or target.text == "-"):
                continue
            reason = self._write(target, state.cwd)
            if reason:
                return reason
        return None

    def _run(self, words: list[Word], state: _State, depth: int) -> str | None:
        call = _unwrap(words)
        if call.privileged:
            return f"runs as another user ({call.privileged})"
        if not call.words or call.words[0].unknown:
            return None
        name, args = _name_of(call.words[0]), call.words[1:]
        reason = _system_reason(name)
        if reason:
            return reason
        family = _interpreter_family(name)
        if family or name in _SCRIPT_RUNNERS:
            return self._runner(name, family, args, state, depth)
        rule = _RULES.get(name)
        return rule(self, name, args, state, depth) if rule else None

    # ---- what a word points at

    def _places(self, word: Word, cwd: str | None) -> list[_Place] | None:
        """The absolute places a path word names, or None when that cannot be known."""
        if word.unknown:
            return None
        texts = _expand_braces(word.text) if word.brace else [word.text]
        if texts is None:
            return None
        places = []
        for text in texts:
            if PWD_MARK in text:
                if cwd is None:
                    return None
                text = text.replace(PWD_MARK, cwd)
            if not text:
                continue
            if not text.startswith("/"):
                if cwd is None:
                    return None
                text = posixpath.join(cwd, text)
            text = "/" + posixpath.normpath(text).lstrip("/")
            parts = text.split("/")
            glob_at = next((k for k, part in enumerate(parts) if _GLOB_CHARS.search(part)), None)
            if word.glob and glob_at is not None:
                places.append(_Place(text, "/".join(parts[:glob_at]) or "/", True))
            else:
                places.append(_Place(text, text, False))
        return places

    def _show(self, text: str) -> str:
        if self.home != "/" and _within(text, self.home):
            return "~" + text[len(self.home):]
        return text

    def _in_scratch(self, real: str, strict: bool = False) -> bool:
        return any(_within(real, d) and not (strict and real == d) for d in self.scratch)

    def _guarded_home(self, real: str) -> bool:
        """A dotfile of a home directory that lies inside the workspace."""
        if not (_within(self.home, self.root) and _within(real, self.home)) or real == self.home:
            return False
        return posixpath.relpath(real, self.home).startswith(".")

    def _outside(self, action: _Action, real: str, text: str) -> str:
        in_home = _within(real, self.home) and not _within(self.root, real)
        where = action.home if in_home else action.outside
        return f"{where} ({self._show(text)})"

    def _delete(self, word: Word, cwd: str | None, action: _Action = _DELETES) -> str | None:
        places = self._places(word, cwd)
        if places is None:
            return f"{action.unknown} ({word.raw})"
        for place in places:
            if place.glob:
                real = os.path.realpath(place.directory)
                safe = _within(real, self.root) or (
                    self._in_scratch(real, strict=True) and not _within(self.root, real))
            else:
                real = _real_parent(place.text)
                if real == self.root:
                    return f"{action.itself} ({self._show(place.text)})"
                inside = _within(real, self.root) or self._in_scratch(real, strict=True)
                safe = inside and not _within(self.root, real)
            if not safe or self._guarded_home(real):
                return self._outside(action, real, place.text)
        return None

    def _write(self, word: Word, cwd: str | None, action: _Action = _WRITES) -> str | None:
        if word.procsub:
            return None
        places = self._places(word, cwd)
        if places is None:
            return f"{action.unknown} ({word.raw})"
        for place in places:
            if place.text in _SINKS or place.text.startswith(("/dev/fd/", "/proc/self/fd/")):
                continue
            real = os.path.realpath(place.directory)
            inside = _within(real, self.root) or self._in_scratch(real)
            if inside and not self._guarded_home(real):
                continue
            if _within(place.text, "/dev") or _within(real, "/dev"):
                return f"writes to a device ({place.text})"
            return self._outside(action, real, place.text)
        return None

    def _chdir(self, cwd: str | None, word: Word) -> str | None:
        places = self._places(word, cwd)
        if not places or len(places) != 1 or places[0].glob:
            return None
        return places[0].text

    def _downloads(self, word: Word) -> bool:
        """Whether a command substitution in the word runs a download."""
        for sub in word.subs:
            try:
                items = parse(Lexer(sub, self.home).tokens())
            except ParseError:
                continue
            for item in items:
                for command in item if isinstance(item, list) else []:
                    words = _unwrap(command.words).words
                    if words and _name_of(words[0]) in _DOWNLOADERS:
                        return True
        return False

    # ---- rules, one per command family

    def _runner(self, name: str, family: str | None, args: list[Word], state: _State,
                depth: int) -> str | None:
        if name == "eval":
            if any(self._downloads(w) for w in args):
                return "runs a downloaded script (eval)"
            return self.check(" ".join(w.text for w in args), state, depth + 1)
        if family is None:
            kind, program = "file", (args[0] if args else None)
        else:
            kind, program = _program(family, args)
        if program is not None and self._downloads(program):
            return f"runs a downloaded script ({name})"
        if family == "shell" and kind == "inline" and program is not None:
            return self.check(program.text, state.copy(), depth + 1)
        return None

    def _delete_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        values = _SHRED_VALUE_OPTIONS if name == "shred" else frozenset()
        for target in _operands(args, values):
            reason = self._delete(target, state.cwd)
            if reason:
                return reason
        return None

    def _find_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        i = 0
        while i < len(args) and args[i].text[:2] in ("-H", "-L", "-P", "-O"):
            i += 1
        starts = []
        while i < len(args) and not args[i].text.startswith("-") and args[i].text not in ("(", "!"):
            starts.append(args[i])
            i += 1
        found = [_found_under(start) for start in starts or [Word(".", ".")]]
        expression = args[i:]
        if any(w.text == "-delete" for w in expression):
            for word in found:
                reason = self._delete(word, state.cwd)
                if reason:
                    return reason
        k = 0
        while k < len(expression):
            if expression[k].text in _FIND_ACTIONS:
                end = k + 1
                while end < len(expression) and expression[end].text not in (";", "+"):
                    end += 1
                for word in found:
                    command = [_with_found(w, word) for w in expression[k + 1:end]]
                    reason = self._run(command, state.copy(), depth)
                    if reason:
                        return reason
                k = end
            k += 1
        return None

    def _copy_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        operands = _operands(args, _COPY_VALUE_OPTIONS[name])
        remote_ok = name in ("rsync", "scp")
        targets = [] if remote_ok else _option_values(args, "t", ("--target-directory",))
        target = targets[0] if targets else None
        if name == "install" and ("d" in _short_flags([w.text for w in args])
                                  or any(w.text == "--directory" for w in args)):
            destinations, sources = operands, []
        elif target is not None:
            destinations, sources = [target], operands
        elif len(operands) >= 2:
            destinations, sources = operands[-1:], operands[:-1]
        elif name == "ln" and operands:
            destinations, sources = [Word(".", ".")], operands
        else:
            return None
        for word in destinations:
            reason = None if remote_ok and _is_remote(word) else self._write(word, state.cwd)
            if reason:
                return reason
        if name == "mv":
            for word in sources:
                reason = self._delete(word, state.cwd, _MOVES)
                if reason:
                    return reason
        return None

    def _create_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        for target in _operands(args, _CREATE_VALUE_OPTIONS[name]):
            reason = self._write(target, state.cwd)
            if reason:
                return reason
        return None

    def _permissions_rule(
        self, name: str, args: list[Word], state: _State, depth: int
    ) -> str | None:
        operands = [w for w in args if not w.text.startswith("-")
                    or (name == "chmod" and _SYMBOLIC_MODE.fullmatch(w.text))]
        by_reference = any(w.text.startswith("--reference") for w in args)
        action = _CHMODS if name == "chmod" else _CHOWNS
        for target in operands if by_reference else operands[1:]:
            reason = self._write(target, state.cwd, action)
            if reason:
                return reason
        return None

    def _sed_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        in_place = script_given = False
        operands: list[Word] = []
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
                operands.extend(args[i + 1:])
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
                operands.append(args[i])
            i += 1
        if not in_place:
            return None
        for target in operands if script_given else operands[1:]:
            reason = self._write(target, state.cwd, _EDITS)
            if reason:
                return reason
        return None

    def _dd_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        for word in args:
            if word.text.startswith("of="):
                reason = self._write(_tail(word, word.text[3:]), state.cwd)
                if reason:
                    return reason
        return None

    def _output_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        short, long = _OUTPUT_OPTIONS[name]
        for value in _option_values(args, short, long):
            reason = None if value.text == "-" else self._write(value, state.cwd)
            if reason:
                return reason
        return None

    def _git_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        cwd, i = state.cwd, 0
        while i < len(args) and args[i].text.startswith("-"):
            if args[i].text in _GIT_VALUE_OPTIONS and i + 1 < len(args):
                if args[i].text == "-C":
                    cwd = self._chdir(cwd, args[i + 1])
                i += 2
            else:
                i += 1
        if i >= len(args):
            return None
        subcommand = args[i].text
        check = _GIT_CHECKS.get(subcommand)
        reason = check([w.text for w in args[i + 1:]]) if check else None
        if reason:
            return reason
        if subcommand in ("clone", "worktree"):
            return self._git_destination(subcommand, args[i + 1:], cwd)
        if subcommand in _GIT_WORKTREE_COMMANDS and (
                cwd is None or not _within(os.path.realpath(cwd), self.root)):
            return f"discards changes outside the workspace (git {subcommand})"
        return None

    def _git_destination(self, subcommand: str, rest: list[Word], cwd: str | None) -> str | None:
        """Where `git clone` or `git worktree add` creates its folder."""
        if subcommand == "clone":
            operands = _operands(rest, _GIT_CLONE_VALUE_OPTIONS)
            target = operands[1] if len(operands) > 1 else Word(".", ".")
        elif rest[:1] and rest[0].text == "add":
            operands = _operands(rest[1:], _GIT_WORKTREE_VALUE_OPTIONS)
            target = operands[0] if operands else None
        else:
            target = None
        return self._write(target, cwd) if target else None

    def _kill_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
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

    def _crontab_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        texts = [w.text for w in args]
        if "-u" in texts:
            at = texts.index("-u")
            del texts[at:at + 2]
        if texts == ["-l"]:
            return None
        if "-r" in texts:
            return "removes the crontab (crontab -r)"
        return "replaces or edits the crontab (crontab)"

    def _power_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        texts = [w.text for w in args]
        if name == "systemctl":
            action = next((t for t in texts if t in _POWER_ACTIONS), None)
        else:
            action = texts[0] if texts[:1] in (["0"], ["6"]) else None
        return f"shuts down or reboots the machine ({name} {action})" if action else None

    def _cd_rule(self, name: str, args: list[Word], state: _State, depth: int) -> str | None:
        if name == "popd":
            state.cwd = state.dirstack.pop() if state.dirstack else None
            return None
        operands = [w for w in args if w.text == "-" or not w.text.startswith(("-", "+"))]
        if not operands:
            new = self.home if name == "cd" else None
        elif operands[0].text == "-":
            new = state.oldpwd
        else:
            new = self._chdir(state.cwd, operands[0])
        if name == "pushd":
            state.dirstack.append(state.cwd)
        state.oldpwd, state.cwd = state.cwd, new
        return None


_Rule = Callable[[_Checker, str, list[Word], _State, int], "str | None"]
_RULES: dict[str, _Rule] = {
    **dict.fromkeys(("rm", "rmdir", "unlink", "shred", "srm"), _Checker._delete_rule),
    "find": _Checker._find_rule,
    **dict.fromkeys(_COPY_VALUE_OPTIONS, _Checker._copy_rule),
    **dict.fromkeys(_CREATE_VALUE_OPTIONS, _Checker._create_rule),
    **dict.fromkeys(("chmod", "chown", "chgrp"), _Checker._permissions_rule),
    "sed": _Checker._sed_rule,
    "dd": _Checker._dd_rule,
    **dict.fromkeys(_OUTPUT_OPTIONS, _Checker._output_rule),
    "git": _Checker._git_rule,
    "kill": _Checker._kill_rule,
    "crontab": _Checker._crontab_rule,
    **dict.fromkeys(("systemctl", "init", "telinit"), _Checker._power_rule),
    **dict.fromkeys(("cd", "pushd", "popd"), _Checker._cd_rule),
}


def dangerous_command(command: str, root: Path, home: Path | None = None) -> str | None:
    """Why a bash command line must be confirmed even in `auto` mode, or None.

    `root` is the workspace, where the shell starts; `home` defaults to the user's
    home directory. The reason is a short phrase such as "force-pushes to a remote".
    """
    if "\0" in command:
        return "cannot be parsed safely (it holds a NUL byte)"
    home_dir = os.path.realpath(home if home is not None else Path.home())
    root_dir = os.path.realpath(root)
    return _Checker(root_dir, home_dir).check(command, _State(root_dir))
