"""Which bash command lines destroy data or reach outside the workspace.

`dangerous_command` says why a command line destroys data that a checkpoint cannot
bring back or reaches outside the workspace: deleting or writing elsewhere, rewriting
a remote, running a downloaded or decoded script, acting as another user, stopping the
machine. The registry asks before such a command in every approval mode, `auto` included.

The line is read with `shell_syntax`, and `cd` is followed from one command to the
next, as are wrappers such as `env -C`, `timeout`, `flock`, `xargs` or `bash -c`
(`wrappers`), here-documents and text piped into a shell. Any expansion other than `~`,
`$HOME` and `$PWD` where a path is expected makes that path unknown, and an unknown
target of a destructive command counts as dangerous (`paths`). The rules per command are
in `commands` and `git`.

It is a safety net, not a sandbox: code handed to interpreters (`python -c`), commands
run on other hosts and scripts on disk are not looked into. When no sandbox confines the
shell (`confined=False`) it also asks for what it cannot read: a command named by a
substitution or a variable (`$(echo rm) -rf ~`), `eval` or `source` of computed text,
generated text piped into a shell, and a known command hidden behind a program that is
not on the list of wrappers (`mywrap rm -rf ~`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .arguments import tail
from .commands import RULES, Context, system_reason
from .interpreters import (
    DOWNLOADERS, SCRIPT_RUNNERS, SETUP_PRINTERS, decodes, interpreter_family, program,
    reads_program_from_stdin,
)
from .paths import Paths, State
from .shell_syntax import Command, Lexer, Op, ParseError, Pipeline, Word, parse
from .wrappers import KNOWN_WRAPPERS, NEVER_RUN_ARGUMENTS, PRIVILEGED, command_name, unwrap

__all__ = ["dangerous_command"]

_WRITE_REDIRECTIONS = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_STDIN_REDIRECTIONS = frozenset({"<", "<<", "<<-", "<<<"})
_MAX_DEPTH = 8
_UNCONFINED = "which the rules cannot read while the shell runs without a sandbox"
_GIT_ENV = {"GIT_DIR": "--git-dir", "GIT_WORK_TREE": "--work-tree"}
_EXPORTS = frozenset({"export", "declare", "typeset"})


def dangerous_command(command: str, root: Path, home: Path | None = None, *,
                      confined: bool = True) -> str | None:
    """Why a bash command line must be confirmed even in `auto` mode, or None.

    `root` is the workspace, where the shell starts; `home` defaults to the user's
    home directory; `confined` says whether a sandbox confines the command. The reason
    is a short phrase such as "force-pushes to a remote".
    """
    if "\0" in command:
        return "cannot be parsed safely (it holds a NUL byte)"
    home_dir = os.path.realpath(home if home is not None else Path.home())
    root_dir = os.path.realpath(root)
    return _Checker(Paths(root_dir, home_dir), confined).check(command, State(root_dir))


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


def _known(name: str) -> bool:
    """Whether the rules know `name` as a command that can do harm or run another."""
    return bool(name in RULES or system_reason(name) or interpreter_family(name)
                or name in SCRIPT_RUNNERS or name in PRIVILEGED or name in KNOWN_WRAPPERS)


class _Checker:
    """Walks a command line: subshells, pipelines, substitutions, then each command's rule."""

    def __init__(self, paths: Paths, confined: bool) -> None:
        self.paths = paths
        self.confined = confined

    def check(self, source: str, state: State, depth: int = 0) -> str | None:
        if depth > _MAX_DEPTH:
            return "nests commands too deeply to check"
        try:
            tokens = Lexer(source, self.paths.home).tokens()
            items = parse(tokens)
        except ParseError as exc:
            return f"cannot be parsed safely ({exc})"
        if _defines_fork_bomb(tokens):
            return "defines a fork bomb"
        saved: list[State] = []
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

    def _pipeline(self, pipeline: Pipeline, state: State, depth: int) -> str | None:
        for command in pipeline:
            for word in [*command.words, *(target for _, target in command.redirects)]:
                for sub in word.subs:
                    reason = self.check(sub, state.copy(), depth + 1)
                    if reason:
                        return reason
        for k, command in enumerate(pipeline):
            reason = (self._piped(pipeline[:k], command, state, depth)
                      or self._redirects(command, state, depth)
                      or self._run(command.words, state, depth))
            if reason:
                return reason
        return None

    def _redirects(self, command: Command, state: State, depth: int) -> str | None:
        for op, target in command.redirects:
            if op in _STDIN_REDIRECTIONS:
                reason = self._stdin_program(command, op, target, state, depth)
                if reason:
                    return reason
            if op not in _WRITE_REDIRECTIONS:
                continue
            if op == ">&" and (target.text.isdigit() or target.text == "-"):
                continue
            reason = self.paths.write(target, state.cwd)
            if reason:
                return reason
        return None

    def _stdin_program(self, command: Command, op: str, target: Word, state: State,
                       depth: int) -> str | None:
        """A shell given its program by a here-document, a here-string or `< <(...)`."""
        words = unwrap(command.words).words
        if not words or words[0].unknown or not reads_program_from_stdin(
                command_name(words[0]), words[1:]):
            return None
        name = command_name(words[0])
        origin = self._origin(target)
        if origin:
            return f"runs a {origin} script ({name})"
        if op == "<" or interpreter_family(name) != "shell":
            return None
        if op == "<<<" and target.unknown:
            if self.confined:
                return None
            return f"runs computed text as a script ({name}), {_UNCONFINED}"
        text = target.text if op == "<<<" else (target.body or "")
        return self.check(text, state.copy(), depth + 1)

    def _run(self, words: list[Word], state: State, depth: int) -> str | None:
        call = unwrap(words)
        if call.privileged:
            return f"runs as another user ({call.privileged})"
        inner = state
        if call.chdirs:
            inner = state.copy()
            for folder in call.chdirs:
                inner.cwd = self.paths.chdir(inner.cwd, folder)
        for target in call.writes:
            reason = self.paths.write(target, inner.cwd)
            if reason:
                return reason
        for code in call.code:
            reason = self._code(code, "shell", inner, depth)
            if reason:
                return reason
        if not call.words:
            return None
        if call.words[0].unknown:
            return self._computed(call.words[0])
        name, args = command_name(call.words[0]), call.words[1:]
        reason = system_reason(name)
        if reason:
            return reason
        if name in _EXPORTS:
            inner.env.update((w.text.partition("=")[0], w) for w in args if "=" in w.text)
            return None
        family = interpreter_family(name)
        if family or name in SCRIPT_RUNNERS:
            return self._runner(name, family, args, inner, depth)
        if name == "git":
            args = [*self._git_environment(call.assignments, inner), *args]
        rule = RULES.get(name)
        if rule is None:
            return None if self.confined else self._hidden(name, args, inner, depth)
        context = Context(self.paths, inner, lambda command, at: self._run(command, at, depth))
        return rule(context, name, args)

    @staticmethod
    def _git_environment(assignments: list[Word], state: State) -> list[Word]:
        """`GIT_DIR=...` and `GIT_WORK_TREE=...` (exported or given) as git's own options."""
        values = {**state.env, **{w.text.partition("=")[0]: w for w in assignments}}
        options = []
        for variable, option in _GIT_ENV.items():
            if variable in values:
                value = tail(values[variable], values[variable].text.partition("=")[2])
                options.append(Word(f"{option}={value.text}", value.raw, unknown=value.unknown))
        return options

    def _computed(self, word: Word) -> str | None:
        """A command whose name comes from a substitution or a variable."""
        origin = self._origin(word)
        if origin:
            return f"runs a {origin} command ({word.raw})"
        if self.confined:
            return None
        return f"runs a command named by an expansion ({word.raw}), {_UNCONFINED}"

    def _hidden(self, name: str, args: list[Word], state: State, depth: int) -> str | None:
        """A command the rules know, run by a program that is not a known wrapper."""
        if name in NEVER_RUN_ARGUMENTS or depth >= _MAX_DEPTH:
            return None
        for k, word in enumerate(args):
            if word.unknown:
                continue
            if _known(command_name(word)):
                reason = self._run(args[k:], state.copy(), depth + 1)
            elif any(c in word.text for c in " ;|&\n"):
                reason = self.check(word.text, state.copy(), depth + 1)
            else:
                continue
            if reason:
                return (f"{reason}, through {name}, a program the rules do not know as a "
                        "wrapper (asked because the shell runs without a sandbox)")
        return None

    def _runner(self, name: str, family: str | None, args: list[Word], state: State,
                depth: int) -> str | None:
        """An interpreter, `eval`, `source` or `trap`: downloaded or decoded programs, and
        inline shell code."""
        if name == "trap":
            code = next((w for w in args if not w.text.startswith("-")), None)
            return self._code(code, "shell", state, depth) if code and len(args) > 1 else None
        if name == "eval":
            text = " ".join(w.text for w in args)
            return self._code(Word(text, text, unknown=any(w.unknown for w in args),
                                   subs=[s for w in args for s in w.subs]), "eval", state, depth)
        if family is None:
            kind, code = "file", (args[0] if args else None)
        else:
            kind, code = program(family, args)
        if code is None:
            return None
        if kind == "inline" and family == "shell":
            return self._code(code, name, state, depth)
        origin = self._origin(code)
        if origin:
            return f"runs a {origin} script ({name})"
        if kind == "file" and family is None and code.unknown and not self.confined:
            return f"runs a computed script ({name} {code.raw}), {_UNCONFINED}"
        return None

    def _code(self, code: Word, name: str, state: State, depth: int) -> str | None:
        """Shell code a command runs (`bash -c CODE`, `eval`, `flock -c`, `watch`)."""
        origin = self._origin(code)
        if origin:
            return f"runs a {origin} script ({name})"
        checker = self
        if code.unknown and not self.confined:
            if not self._prints_setup(code):
                return f"runs computed code ({name} {code.raw}), {_UNCONFINED}"
            checker = _Checker(self.paths, confined=True)  # `eval "$(ssh-agent -s)"`
        return checker.check(code.text, state.copy(), depth + 1)

    def _commands_in(self, word: Word, depth: int = 0) -> list[list[Word]]:
        """The commands of the substitutions in a word, nested ones included."""
        found = []
        for sub in word.subs:
            try:
                items = parse(Lexer(sub, self.paths.home).tokens())
            except ParseError:
                continue
            for item in items:
                for command in item if isinstance(item, list) else []:
                    found.append(command.words)
                    for inner in [*command.words, *(t for _, t in command.redirects)]:
                        if depth < _MAX_DEPTH:
                            found += self._commands_in(inner, depth + 1)
        return found

    def _origin(self, word: Word) -> str | None:
        """"downloaded" or "decoded" when a substitution in the word downloads or decodes."""
        kinds = [_producer(unwrap(words).words) for words in self._commands_in(word)]
        return next((kind for kind in ("downloaded", "decoded") if kind in kinds), None)

    def _prints_setup(self, word: Word) -> bool:
        """Computed code that comes only from programs made for `eval` (`ssh-agent -s`)."""
        commands = self._commands_in(word)
        bare_variable = word.text.count("$") > len(word.subs)
        names = [command_name(w) for words in commands for w in words[:1] if not w.unknown]
        return bool(commands) and not bare_variable and len(names) == len(commands) and all(
            name in SETUP_PRINTERS for name in names)

    def _piped(self, before: list[Command], command: Command, state: State,
               depth: int) -> str | None:
        """Text piped into a program that runs it: downloads, decoded data, echoed code."""
        words = unwrap(command.words).words
        if not before or not words or words[0].unknown:
            return None
        name = command_name(words[0])
        if not reads_program_from_stdin(name, words[1:]):
            return None
        kind = "a shell" if interpreter_family(name) == "shell" else "an interpreter"
        producers = [unwrap(c.words).words for c in before]
        found = [_producer(p) for p in producers]
        if "downloaded" in found:
            return f"pipes a download into {kind} ({name})"
        if "decoded" in found:
            return f"pipes decoded data into {kind} ({name})"
        if kind != "a shell":
            return None
        text = _echoed(producers[-1], before[-1])
        if text is not None:
            return self.check(text, state.copy(), depth + 1)
        if self.confined or all(p and command_name(p[0]) == "cat" for p in producers):
            return None
        return f"pipes generated text into a shell ({name}), {_UNCONFINED}"


def _producer(words: list[Word]) -> str | None:
    """"downloaded" for a download, "decoded" for decoded or escaped text, else None."""
    if not words or words[0].unknown:
        return None
    name, args = command_name(words[0]), words[1:]
    if name in DOWNLOADERS:
        return "downloaded"
    if decodes(name, args):
        return "decoded"
    if name in ("echo", "printf") and _escaped(name, args):
        return "decoded"
    return None


def _escaped(name: str, args: list[Word]) -> bool:
    """echo -e or printf text with escapes (`\\x72m`) that spell out other characters."""
    texts = [w.text for w in args]
    if name == "echo" and not any(t.startswith("-") and "e" in t for t in texts[:2]):
        return any("$'" in w.raw and "\\" in w.raw for w in args)
    escapes = [t.replace("\\n", "").replace("\\t", "") for t in texts]
    return any("\\" in t for t in escapes) or any("$'" in w.raw for w in args)


def _echoed(words: list[Word], command: Command) -> str | None:
    """The text `echo ...`, `printf ...` or `cat <<EOF` prints, when it is plain; else None."""
    if words and command_name(words[0]) == "cat" and len(words) == 1:
        bodies = [t.text if op == "<<<" else t.body or "" for op, t in command.redirects
                  if op in ("<<", "<<-", "<<<") and not (op == "<<<" and t.unknown)]
        return bodies[-1] if bodies else None
    if not words or command_name(words[0]) not in ("echo", "printf"):
        return None
    args = words[1:]
    if command_name(words[0]) == "echo":
        while args and args[0].text in ("-n", "-e", "-E", "-ne", "-en"):
            args = args[1:]
    if any(w.unknown for w in args):
        return None
    texts = [w.text.replace("\\n", "\n").replace("%s", "") for w in args]
    return "\n".join(texts) if command_name(words[0]) == "printf" else " ".join(texts)
