"""Reading bash command lines the way bash splits them, for the safety rules.

`Lexer` turns a line into words and operators, handling quotes and escapes,
here-documents, comments, and command, parameter and process substitutions;
`parse` groups them into pipelines of simple commands with their redirections.
Only `~`, `$HOME` and `$PWD` are expanded; other expansions are kept as written and
mark the word unknown. Nothing is ever run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPERATORS = sorted(
    ["<<<", "<<-", "&>>", ";;&", "<<", ">>", "&&", "||", ";;", ";&", "|&", "&>", ">&",
     "<&", "<>", ">|", ";", "&", "|", "(", ")", "<", ">"],
    key=len, reverse=True,
)
_REDIRECTIONS = frozenset({"<", ">", ">>", ">|", "&>", "&>>", "<>", ">&", "<&", "<<", "<<-", "<<<"})
_METACHARS = frozenset(" \t\n;&|()<>")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_FD_PREFIX = re.compile(r"\d+(?=[<>])")
_SPECIAL_PARAMETERS = frozenset("@*#?$!-0123456789")
_EXPANSION_START = re.compile(r"[\\$`]")
_PLAIN_RUN = re.compile(r"[^ \t\n;&|()<>\\'\"$`~*?\[{]+")
_MAX_NESTING = 50  # quotes within substitutions within quotes...: read recursively
# Stands for the shell's current directory ($PWD, $(pwd)) until a path is resolved.
PWD_MARK = "\x00pwd\x00"


class ParseError(ValueError):
    """The line is not shell syntax this reader can follow."""


@dataclass
class Word:
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
    body: str | None = None  # a here-document's text, on its delimiter word


@dataclass(frozen=True)
class Op:
    """An operator (`|`, `&&`, `>`, `(`...), or "\\n" for a newline."""

    text: str


class Lexer:
    """Splits a command line into words and operators as bash would."""

    def __init__(self, source: str, home: str) -> None:
        self.s = source
        self.i = 0
        self.home = home
        self.heredocs: list[tuple[Word, bool]] = []

    def tokens(self) -> list[Word | Op]:
        out: list[Word | Op] = []
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
                out.append(Op("\n"))
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
                out.append(Op(op))
                if op in ("<<", "<<-"):
                    self._skip_blanks()
                    if self.i >= len(self.s) or self.s[self.i] in _METACHARS:
                        raise ParseError("here-document without a delimiter")
                    delimiter = self._word()
                    self.heredocs.append((delimiter, op == "<<-"))
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
        """Keeps each here-document's text on its delimiter; an unquoted one's substitutions
        run in the shell that reads it, so they become the delimiter's `subs`."""
        for delimiter, strip_tabs in self.heredocs:
            lines = []
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i:end]
                self.i = min(end + 1, len(self.s))
                if (line.lstrip("\t") if strip_tabs else line) == delimiter.text:
                    break
                lines.append(line)
            delimiter.body = "\n".join(lines)
            if not re.search(r"['\"\\]", delimiter.raw):
                delimiter.subs += _expansions(delimiter.body, self.home)
        self.heredocs.clear()

    def _process_substitution(self) -> Word:
        start = self.i
        self.i = self._close_paren(start + 1)
        raw = self.s[start:self.i]
        return Word(raw, raw, unknown=True, procsub=True, subs=[self.s[start + 2:self.i - 1]])

    def _word(self) -> Word:
        start = self.i
        word = Word("", "")
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
                    raise ParseError("unbalanced quotes")
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

    def _tilde(self, word: Word) -> None:
        end = self.i + 1
        while end < len(self.s) and self.s[end] not in _METACHARS and self.s[end] not in "/'\"\\$`":
            end += 1
        user = self.s[self.i + 1:end]
        if not user:
            word.text += self.home
        elif user == "+":
            word.text += PWD_MARK
        else:
            word.unknown = True
            word.text += self.s[self.i:end]
        self.i = end

    def _double_quoted(self, word: Word) -> None:
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
        raise ParseError("unbalanced quotes")

    def _dollar(self, word: Word, quoted: bool) -> None:
        s, start = self.s, self.i
        following = s[start + 1:start + 2]
        if following == "(":
            end = self._close_paren(start + 1)
            inner = s[start + 2:end - 1]
            if inner.strip() == "pwd":
                word.text += PWD_MARK
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
                raise ParseError("unbalanced quotes")
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

    def _parameter(self, word: Word, name: str, raw: str) -> None:
        if name == "HOME":
            word.text += self.home
        elif name == "PWD":
            word.text += PWD_MARK
        else:
            word.unknown = True
            word.text += raw

    def _backquote(self, word: Word) -> None:
        end = self._skip_backquote(self.i)
        body = re.sub(r"\\([\\`$])", r"\1", self.s[self.i + 1:end])
        if body.strip() == "pwd":
            word.text += PWD_MARK
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
            raise ParseError("unbalanced backquotes")
        return end

    def _skip_double(self, start: int, nesting: int) -> int:
        if nesting > _MAX_NESTING:
            raise ParseError("quotes and substitutions nest too deeply")
        j = start + 1
        while j < len(self.s):
            char = self.s[j]
            if char == "\\":
                j += 2
                continue
            if char == '"':
                return j
            if self.s.startswith("$(", j):
                j = self._close_paren(j + 1, nesting)
                continue
            if char == "`":
                j = self._skip_backquote(j)
            j += 1
        raise ParseError("unbalanced quotes")

    def _close_paren(self, opening: int, nesting: int = 0) -> int:
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
                j = self._skip_double(j, nesting + 1)
            elif char == "`":
                j = self._skip_backquote(j)
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        raise ParseError("unbalanced parentheses")

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
        raise ParseError("unbalanced braces")


def _expansions(text: str, home: str) -> list[str]:
    """The command substitutions in text that the shell expands (an unquoted here-document)."""
    lexer, word = Lexer(text, home), Word("", "")
    while (found := _EXPANSION_START.search(text, lexer.i)) is not None:
        lexer.i = found.start()
        if found.group() == "\\":
            lexer.i += 2
        elif found.group() == "$":
            lexer._dollar(word, quoted=True)
        else:
            lexer._backquote(word)
    return word.subs


@dataclass
class Command:
    """A simple command: its words and its redirections with their targets."""

    words: list[Word] = field(default_factory=list)
    redirects: list[tuple[str, Word]] = field(default_factory=list)


Pipeline = list[Command]


def parse(tokens: list[Word | Op]) -> list[Pipeline | str]:
    """Groups tokens into pipelines; "(" and ")" mark where a subshell starts and ends."""
    items: list[Pipeline | str] = []
    pipeline: Pipeline = []
    command = Command()
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if isinstance(token, Word):
            command.words.append(token)
            continue
        if token.text in _REDIRECTIONS:
            if position >= len(tokens) or not isinstance(tokens[position], Word):
                raise ParseError(f"'{token.text}' without a target")
            command.redirects.append((token.text, tokens[position]))  # type: ignore[arg-type]
            position += 1
            continue
        if command.words or command.redirects:
            pipeline.append(command)
        command = Command()
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
