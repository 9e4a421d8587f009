"""Safety policy for the tool registry: dangerous shell commands and secret files.

The registry decides when a tool call needs a person's yes. Two of its questions are
answered here, without running anything:

* `dangerous_command` says why a bash command line destroys data that a checkpoint
  cannot bring back or reaches outside the workspace: deleting or writing elsewhere,
  rewriting a remote, running a downloaded script, acting as another user, stopping
  the machine. The registry asks before such a command in every approval mode,
  `auto` included.
* `secret_reason` says why a file looks like it holds secrets: environment files,
  private keys, credential stores. The registry asks before reading one in every
  mode but `auto`.

The command check reads the line the way bash splits it: quotes and escapes, lists
and pipelines, redirections, here-documents, subshells, command and process
substitutions, `cd` from one command to the next, and wrappers such as `env`,
`timeout`, `xargs` or `bash -c`. Only `~`, `$HOME` and `$PWD` are expanded; any other
expansion where a path is expected makes that path unknown, and an unknown target of
a destructive command counts as dangerous. It is a safety net, not a sandbox: code
handed to interpreters (`python -c`), commands run on other hosts and scripts on disk
are not looked into.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------- reading


_OPERATORS = sorted(
    ["<<<", "<<-", "&>>", ";;&", "<<", ">>", "&&", "||", ";;", ";&", "|&", "&>", ">&",
     "<&", "<>", ">|", ";", "&", "|", "(", ")", "<", ">"],
    key=len, reverse=True,
)
_REDIRECTIONS = frozenset({"<", ">", ">>", ">|", "&>", "&>>", "<>", ">&", "<&", "<<", "<<-", "<<<"})
_WRITE_REDIRECTIONS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_METACHARS = frozenset(" \t\n;&|()<>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_FD_PREFIX = re.compile(r"\d+(?=[<>])")
_SPECIAL_PARAMETERS = frozenset("@*#?$!-0123456789")
_GLOB_CHARS = re.compile(r"[*?\[]")
_PLAIN_RUN = re.compile(r"[^ \t\n;&|()<>\\'\"$`~*?\[{]+")
_BRACE_GROUP = re.compile(r"\{([^{}]*,[^{}]*)\}")
# Stands for the shell's current directory ($PWD, $(pwd)) until a path is resolved.
_PWD_MARK = "\x00pwd\x00"
_MAX_DEPTH = 8


class _ParseError(ValueError):
    """The line is not shell syntax this reader can follow."""


@dataclass
class _Word:
    """One shell word after quote removal.

    `text` has `~`, `$HOME` and `$PWD` expanded and keeps every other expansion as
    written, so that a nested `bash -c` text can be read again.
    """

    text: str
    raw: str
    unknown: bool = False
    glob: bool = False
    brace: bool = False
    procsub: bool = False
    subs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Op:
    text: str


class _Lexer:
    """Splits a command line into words and operators as bash would."""

    def __init__(self, source: str, home: str) -> None:
        self.s = source
        self.i = 0
        self.home = home
        self.heredocs: list[tuple[str, bool]] = []

    def tokens(self) -> list[_Word | _Op]:
        out: list[_Word | _Op] = []
        while True:
            self._skip_blanks()
            if self.i >= len(self.s):
                return out
            char = self.s[self.i]
            if char == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            elif char == "\n":
                self.i += 1
                out.append(_Op("\n"))
                self._skip_heredoc_bodies()
            elif self.s.startswith(("<(", ">("), self.i):
                out.append(self._process_substitution())
            else:
                fd = _FD_PREFIX.match(self.s, self.i)
                if fd:
                    self.i = fd.end()
                op = self._operator()
                if op is None:
                    out.append(self._word())
                    continue
                out.append(_Op(op))
                if op in ("<<", "<<-"):
                    self._skip_blanks()
                    if self.i >= len(self.s) or self.s[self.i] in _METACHARS:
                        raise _ParseError("here-document without a delimiter")
                    delimiter = self._word()
                    self.heredocs.append((delimiter.text, op == "<<-"))
                    out.append(delimiter)

    def _skip_blanks(self) -> None:
        while self.i < len(self.s):
            if self.s[self.i] in " \t":
                self.i += 1
            elif self.s.startswith("\\\n", self.i):
                self.i += 2
            else:
                return

    def _operator(self) -> str | None:
        for op in _OPERATORS:
            if self.s.startswith(op, self.i):
                self.i += len(op)
                return op
        return None

    def _skip_heredoc_bodies(self) -> None:
        for delimiter, strip_tabs in self.heredocs:
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i:end]
                self.i = min(end + 1, len(self.s))
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        self.heredocs.clear()

    def _process_substitution(self) -> _Word:
        start = self.i
        self.i = self._close_paren(start + 1)
        raw = self.s[start:self.i]
        return _Word(raw, raw, unknown=True, procsub=True, subs=[self.s[start + 2:self.i - 1]])

    def _word(self) -> _Word:
        start = self.i
        word = _Word("", "")
        while self.i < len(self.s) and self.s[self.i] not in _METACHARS:
            char = self.s[self.i]
            if char == "~" and (self.i == start or _ASSIGNED_NAME.fullmatch(word.text)):
                self._tilde(word)
            elif char == "\\":
                escaped = self.s[self.i + 1:self.i + 2]
                if escaped != "\n":
                    word.text += escaped
                self.i += 2
            elif char == "'":
                end = self.s.find("'", self.i + 1)
                if end < 0:
                    raise _ParseError("unbalanced quotes")
                word.text += self.s[self.i + 1:end]
                self.i = end + 1
            elif char == '"':
                self.i += 1
                self._double_quoted(word)
            elif char == "$":
                self._dollar(word, quoted=False)
            elif char == "`":
                self._backquote(word)
            else:
                plain = _PLAIN_RUN.match(self.s, self.i)
                end = plain.end() if plain else self.i + 1
                word.glob |= char in "*?["
                word.brace |= char == "{"
                word.text += self.s[self.i:end]
                self.i = end
        word.raw = self.s[start:self.i]
        return word

    def _tilde(self, word: _Word) -> None:
        end = self.i + 1
        while end < len(self.s) and self.s[end] not in _METACHARS and self.s[end] not in "/'\"\\$`":
            end += 1
        user = self.s[self.i + 1:end]
        if not user:
            word.text += self.home
        elif user == "+":
            word.text += _PWD_MARK
        else:
            word.unknown = True
            word.text += self.s[self.i:end]
        self.i = end

    def _double_quoted(self, word: _Word) -> None:
        while self.i < len(self.s):
            char = self.s[self.i]
            if char == '"':
                self.i += 1
                return
            escaped = self.s[self.i + 1:self.i + 2]
            if char == "\\" and escaped and escaped in '$`"\\\n':
                if escaped != "\n":
                    word.text += escaped
                self.i += 2
            elif char == "$":
                self._dollar(word, quoted=True)
            elif char == "`":
                self._backquote(word)
            else:
                word.text += char
                self.i += 1
        raise _ParseError("unbalanced quotes")

    def _dollar(self, word: _Word, quoted: bool) -> None:
        s, start = self.s, self.i
        following = s[start + 1:start + 2]
        if following == "(":
            end = self._close_paren(start + 1)
            inner = s[start + 2:end - 1]
            if inner.strip() == "pwd":
                word.text += _PWD_MARK
            else:
                word.unknown = True
                word.text += s[start:end]
                if not (inner.startswith("(") and inner.endswith(")")):
                    word.subs.append(inner)
        elif following == "{":
            end = self._close_brace(start + 1)
            self._parameter(word, s[start + 2:end - 1], s[start:end])
        elif following == "'" and not quoted:
            end = start + 2
            while end < len(s) and s[end] != "'":
                end += 2 if s[end] == "\\" else 1
            if end >= len(s):
                raise _ParseError("unbalanced quotes")
            word.text += s[start + 2:end]
            end += 1
        elif following == '"' and not quoted:
            self.i = start + 2
            self._double_quoted(word)
            return
        else:
            name = _NAME.match(s, start + 1)
            if name:
                end = name.end()
            elif following and following in _SPECIAL_PARAMETERS:
                end = start + 2
            else:
                word.text += "$"
                self.i = start + 1
                return
            self._parameter(word, s[start + 1:end], s[start:end])
        self.i = end

    def _parameter(self, word: _Word, name: str, raw: str) -> None:
        if name == "HOME":
            word.text += self.home
        elif name == "PWD":
            word.text += _PWD_MARK
        else:
            word.unknown = True
            word.text += raw

    def _backquote(self, word: _Word) -> None:
        end = self._skip_backquote(self.i)
        body = re.sub(r"\\([\\`$])", r"\1", self.s[self.i + 1:end])
        if body.strip() == "pwd":
            word.text += _PWD_MARK
        else:
            word.unknown = True
            word.subs.append(body)
            word.text += self.s[self.i:end + 1]
        self.i = end + 1

    def _skip_backquote(self, start: int) -> int:
        end = start + 1
        while end < len(self.s) and self.s[end] != "`":
            end += 2 if self.s[end] == "\\" else 1
        if end >= len(self.s):
            raise _ParseError("unbalanced backquotes")
        return end

    def _skip_double(self, start: int) -> int:
        j = start + 1
        while j < len(self.s):
            char = self.s[j]
            if char == "\\":
                j += 2
                continue
            if char == '"':
                return j
            if self.s.startswith("$(", j):
                j = self._close_paren(j + 1)
                continue
            if char == "`":
                j = self._skip_backquote(j)
            j += 1
        raise _ParseError("unbalanced quotes")

    def _close_paren(self, opening: int) -> int:
        """The index just past the `)` that closes the `(` at `opening`."""
        s, depth, j = self.s, 0, opening
        while j < len(s):
            char = s[j]
            if char == "\\":
                j += 2
                continue
            if char == "'":
                j = s.find("'", j + 1)
                if j < 0:
                    break
            elif char == '"':
                j = self._skip_double(j)
            elif char == "`":
                j = self._skip_backquote(j)
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise _ParseError("unbalanced parentheses")

    def _close_brace(self, opening: int) -> int:
        depth, j = 0, opening
        while j < len(self.s):
            char = self.s[j]
            if char == "\\":
                j += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise _ParseError("unbalanced braces")


@dataclass
class _Command:
    words: list[_Word] = field(default_factory=list)
    redirects: list[tuple[str, _Word]] = field(default_factory=list)


_Pipeline = list[_Command]


def _parse(tokens: list[_Word | _Op]) -> list[_Pipeline | str]:
    """Groups tokens into pipelines; "(" and ")" mark where a subshell starts and ends."""
    items: list[_Pipeline | str] = []
    pipeline: _Pipeline = []
    command = _Command()
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if isinstance(token, _Word):
            command.words.append(token)
            continue
        if token.text in _REDIRECTIONS:
            if position >= len(tokens) or not isinstance(tokens[position], _Word):
                raise _ParseError(f"'{token.text}' without a target")
            command.redirects.append((token.text, tokens[position]))  # type: ignore[arg-type]
            position += 1
            continue
        if command.words or command.redirects:
            pipeline.append(command)
        command = _Command()
        if token.text in ("|", "|&"):
            continue
        if pipeline:
            items.append(pipeline)
        pipeline = []
        if token.text in ("(", ")"):
            items.append(token.text)
    if command.words or command.redirects:
        pipeline.append(command)
    if pipeline:
        items.append(pipeline)
    return items


def _defines_fork_bomb(tokens: list[_Word | _Op]) -> bool:
    """A function whose body starts copies of itself in a pipe or the background."""
    for k in range(len(tokens) - 2):
        name, opening, closing = tokens[k:k + 3]
        if not (isinstance(name, _Word) and opening == _Op("(") and closing == _Op(")")):
            continue
        body: list[_Word | _Op] = []
        for token in tokens[k + 3:]:
            if isinstance(token, _Word) and token.text == "}":
                break
            body.append(token)
        calls = sum(isinstance(t, _Word) and t.text == name.text for t in body)
        if calls >= 2 and any(isinstance(t, _Op) and t.text in ("|", "&") for t in body):
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
    words: list[_Word]
    privileged: str | None = None


def _name_of(word: _Word) -> str:
    return posixpath.basename(word.text)


def _after_options(
    args: list[_Word], value_options: frozenset[str], positionals: int
) -> list[_Word]:
    i = 0
    while i < len(args) and args[i].text.startswith("-") and args[i].text != "-":
        if args[i].text == "--":
            i += 1
            break
        i += 2 if args[i].text in value_options else 1
    return args[i + positionals:]


def _xargs_command(args: list[_Word]) -> list[_Word]:
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
        return [_Word(w.text, w.raw, unknown=True) if replace in w.text else w for w in command]
    return [*command, _Word("", "input of xargs", unknown=True)]


def _unwrap(words: list[_Word]) -> _Call:
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


def _program(family: str, args: list[_Word]) -> tuple[str, _Word | None]:
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


def _reads_program_from_stdin(name: str, args: list[_Word]) -> bool:
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


def _operands(args: list[_Word], value_options: frozenset[str] = frozenset()) -> list[_Word]:
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


def _tail(word: _Word, text: str) -> _Word:
    """A word made of the end of another (an option's attached value)."""
    unknown = word.unknown and ("$" in text or "`" in text)
    raw = word.raw if unknown else text
    return _Word(text, raw, unknown=unknown, glob=word.glob, brace=word.brace)


def _option_values(args: list[_Word], short: str, long: tuple[str, ...]) -> list[_Word]:
    """The values given to the options `-x` (x in `short`, clusters allowed) and `--long`."""
    values: list[_Word | None] = []
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


def _is_remote(word: _Word) -> bool:
    return re.match(r"[^/:]*:", word.text) is not None and not word.text.startswith(".")


def _found_under(start: _Word) -> _Word:
    """What find reaches from a start path: the path and everything below it."""
    return _Word(start.text.rstrip("/") + "/*", start.raw, unknown=start.unknown, glob=True)


def _with_found(word: _Word, found: _Word) -> _Word:
    if "{}" not in word.text:
        return word
    return _Word(word.text.replace("{}", found.text), word.raw,
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
            tokens = _Lexer(source, self.home).tokens()
            items = _parse(tokens)
        except _ParseError as exc:
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

    def _pipeline(self, pipeline: _Pipeline, state: _State, depth: int) -> str | None:
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

    def _pipes_download(self, pipeline: _Pipeline) -> str | None:
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

    def _redirects(self, command: _Command, state: _State) -> str | None:
        for op, target in command.redirects:
            if op not in _WRITE_REDIRECTIONS:
                continue
            if op == ">&" and (target.text.isdigit() or target.text == "-"):
                continue
            reason = self._write(target, state.cwd)
            if reason:
                return reason
        return None

    def _run(self, words: list[_Word], state: _State, depth: int) -> str | None:
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

    def _places(self, word: _Word, cwd: str | None) -> list[_Place] | None:
        """The absolute places a path word names, or None when that cannot be known."""
        if word.unknown:
            return None
        texts = _expand_braces(word.text) if word.brace else [word.text]
        if texts is None:
            return None
        places = []
        for text in texts:
            if _PWD_MARK in text:
                if cwd is None:
                    return None
                text = text.replace(_PWD_MARK, cwd)
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

    def _delete(self, word: _Word, cwd: str | None, action: _Action = _DELETES) -> str | None:
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

    def _write(self, word: _Word, cwd: str | None, action: _Action = _WRITES) -> str | None:
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

    def _chdir(self, cwd: str | None, word: _Word) -> str | None:
        places = self._places(word, cwd)
        if not places or len(places) != 1 or places[0].glob:
            return None
        return places[0].text

    def _downloads(self, word: _Word) -> bool:
        """Whether a command substitution in the word runs a download."""
        for sub in word.subs:
            try:
                items = _parse(_Lexer(sub, self.home).tokens())
            except _ParseError:
                continue
            for item in items:
                for command in item if isinstance(item, list) else []:
                    words = _unwrap(command.words).words
                    if words and _name_of(words[0]) in _DOWNLOADERS:
                        return True
        return False

    # ---- rules, one per command family

    def _runner(self, name: str, family: str | None, args: list[_Word], state: _State,
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

    def _delete_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        values = _SHRED_VALUE_OPTIONS if name == "shred" else frozenset()
        for target in _operands(args, values):
            reason = self._delete(target, state.cwd)
            if reason:
                return reason
        return None

    def _find_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        i = 0
        while i < len(args) and args[i].text[:2] in ("-H", "-L", "-P", "-O"):
            i += 1
        starts = []
        while i < len(args) and not args[i].text.startswith("-") and args[i].text not in ("(", "!"):
            starts.append(args[i])
            i += 1
        found = [_found_under(start) for start in starts or [_Word(".", ".")]]
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

    def _copy_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
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
            destinations, sources = [_Word(".", ".")], operands
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

    def _create_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        for target in _operands(args, _CREATE_VALUE_OPTIONS[name]):
            reason = self._write(target, state.cwd)
            if reason:
                return reason
        return None

    def _permissions_rule(
        self, name: str, args: list[_Word], state: _State, depth: int
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

    def _sed_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        in_place = script_given = False
        operands: list[_Word] = []
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

    def _dd_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        for word in args:
            if word.text.startswith("of="):
                reason = self._write(_tail(word, word.text[3:]), state.cwd)
                if reason:
                    return reason
        return None

    def _output_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        short, long = _OUTPUT_OPTIONS[name]
        for value in _option_values(args, short, long):
            reason = None if value.text == "-" else self._write(value, state.cwd)
            if reason:
                return reason
        return None

    def _git_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
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

    def _git_destination(self, subcommand: str, rest: list[_Word], cwd: str | None) -> str | None:
        """Where `git clone` or `git worktree add` creates its folder."""
        if subcommand == "clone":
            operands = _operands(rest, _GIT_CLONE_VALUE_OPTIONS)
            target = operands[1] if len(operands) > 1 else _Word(".", ".")
        elif rest[:1] and rest[0].text == "add":
            operands = _operands(rest[1:], _GIT_WORKTREE_VALUE_OPTIONS)
            target = operands[0] if operands else None
        else:
            target = None
        return self._write(target, cwd) if target else None

    def _kill_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
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

    def _crontab_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        texts = [w.text for w in args]
        if "-u" in texts:
            at = texts.index("-u")
            del texts[at:at + 2]
        if texts == ["-l"]:
            return None
        if "-r" in texts:
            return "removes the crontab (crontab -r)"
        return "replaces or edits the crontab (crontab)"

    def _power_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
        texts = [w.text for w in args]
        if name == "systemctl":
            action = next((t for t in texts if t in _POWER_ACTIONS), None)
        else:
            action = texts[0] if texts[:1] in (["0"], ["6"]) else None
        return f"shuts down or reboots the machine ({name} {action})" if action else None

    def _cd_rule(self, name: str, args: list[_Word], state: _State, depth: int) -> str | None:
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


_Rule = Callable[[_Checker, str, list[_Word], _State, int], "str | None"]
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
    home_dir = os.path.realpath(home if home is not None else Path.home())
    root_dir = os.path.realpath(root)
    return _Checker(root_dir, home_dir).check(command, _State(root_dir))


# ---------------------------------------------------------------------- secrets

_SNIFF_MAX_SIZE = 1 << 20
_SNIFF_BYTES = 64 << 10
_PRIVATE_KEY_PEM = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_ENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "defaults"})
_SSH_KEY = re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)")
_SECRET_FILES = {
    **dict.fromkeys((".netrc", "_netrc", ".pgpass", ".pypirc", ".npmrc", ".git-credentials",
                     "credentials", "credentials.json"), "credentials"),
    **dict.fromkeys(("secrets.yml", "secrets.yaml", "secrets.json", "secrets.toml"),
                    "a secrets file"),
    ".htpasswd": "password hashes",
    "terraform.tfstate": "Terraform state",
}
_SECRET_SUFFIXES = {
    ".key": "a private key file",
    ".ppk": "a private key file",
    ".p12": "a key store",
    ".pfx": "a key store",
    ".jks": "a key store",
    ".keystore": "a key store",
    ".kdbx": "a password database",
    ".credentials": "credentials",
    ".tfstate": "Terraform state",
    ".tfstate.backup": "Terraform state",
}
# Files that hold keys or only public material (certificates, public keys): secret by
# name while their content cannot be read, cleared when it shows no private key.
_KEY_CONTAINERS = {
    ".pem": "a PEM file that may hold a private key",
    ".asc": "a PGP file that may hold a private key",
    ".gpg": "a PGP file that may hold a private key",
}
_SECRET_FOLDERS = {".ssh": "an SSH file", ".aws": "AWS credentials", ".gnupg": "a GnuPG file"}
_SECRET_FOLDER_FILES = {(".docker", "config.json"): "registry credentials",
                        (".kube", "config"): "cluster credentials"}


def _is_env_file(name: str) -> bool:
    if name in (".env", ".envrc"):
        return True
    if name.startswith(".env."):
        return not _ENV_TEMPLATES.intersection(name.split(".")[2:])
    if name.endswith(".env"):
        return not _ENV_TEMPLATES.intersection(name[:-4].split("."))
    return False


def _secret_by_name(path: Path) -> str | None:
    name = path.name.lower()
    folders = [part.lower() for part in path.parts[:-1]]
    if _is_env_file(name):
        return f"an environment file ({path.name})"
    if _SSH_KEY.match(name) and not name.endswith(".pub"):
        return f"an SSH private key ({path.name})"
    if name in _SECRET_FILES:
        return f"{_SECRET_FILES[name]} ({path.name})"
    if name.startswith("service-account") and name.endswith(".json"):
        return f"a service account key ({path.name})"
    for suffix, what in _SECRET_SUFFIXES.items():
        if name.endswith(suffix):
            return f"{what} ({path.name})"
    for folder in folders:
        if folder in _SECRET_FOLDERS:
            return f"{_SECRET_FOLDERS[folder]} ({path.name})"
    if folders and (folders[-1], name) in _SECRET_FOLDER_FILES:
        return f"{_SECRET_FOLDER_FILES[folders[-1], name]} ({path.name})"
    return None


def _read_head(path: Path, limit: int) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > _SNIFF_MAX_SIZE:
            return None
        with path.open("rb") as handle:
            return handle.read(limit)
    except (OSError, ValueError):
        return None


def _pgp_secret_packet(data: bytes) -> bool:
    """Whether binary OpenPGP data starts with a secret key packet (tags 5 and 7)."""
    if not data or not data[0] & 0x80:
        return False
    tag = data[0] & 0x3F if data[0] & 0x40 else (data[0] >> 2) & 0x0F
    return tag in (5, 7)


def secret_reason(path: Path) -> str | None:
    """Why the file at `path` looks like it holds secrets, or None.

    Names decide first (`.env`, `id_rsa`, `*.key`, `.netrc`, files under `.ssh`...).
    A readable regular file of at most 1 MB is also a secret when it holds a private
    key, whatever its name; a `.pem`, `.asc` or `.gpg` file whose content shows no
    private key is not. `.env` templates (`.env.example`, `.env.sample`...) are not
    secrets; direnv's `.envrc` is, since it usually exports credentials. Missing or
    unreadable files get the answer their name gives.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    head = _read_head(path, _SNIFF_MAX_SIZE if suffix in _KEY_CONTAINERS else _SNIFF_BYTES)
    if head is not None and (_PRIVATE_KEY_PEM.search(head)
                             or (suffix == ".gpg" and _pgp_secret_packet(head))):
        return f"a private key ({path.name})"
    reason = _secret_by_name(path)
    if reason is None and suffix in _KEY_CONTAINERS and head is None:
        return f"{_KEY_CONTAINERS[suffix]} ({path.name})"
    return reason
