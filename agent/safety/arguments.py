"""Reading a command's arguments: its operands, option values and short flags (GNU style)."""

from __future__ import annotations

from .shell_syntax import Word


def operands(args: list[Word], value_options: frozenset[str] = frozenset()) -> list[Word]:
    """The arguments that are not options (GNU style: options may come anywhere)."""
    found, i, options_done = [], 0, False
    while i < len(args):
        text = args[i].text
        if options_done or text == "-" or not text.startswith("-"):
            found.append(args[i])
        elif text == "--":
            options_done = True
        elif text in value_options:
            i += 1
        i += 1
    return found


def tail(word: Word, text: str) -> Word:
    """A word made of the end of another (an option's attached value)."""
    unknown = word.unknown and ("$" in text or "`" in text)
    raw = word.raw if unknown else text
    return Word(text, raw, unknown=unknown, glob=word.glob, brace=word.brace)


def option_values(args: list[Word], short: str, long: tuple[str, ...]) -> list[Word]:
    """The values given to the options `-x` (x in `short`, clusters allowed) and `--long`."""
    values: list[Word | None] = []
    for i, word in enumerate(args):
        text = word.text
        following = args[i + 1] if i + 1 < len(args) else None
        if text.startswith("--"):
            name, equals, value = text.partition("=")
            if name in long:
                values.append(tail(word, value) if equals else following)
        elif text.startswith("-"):
            for k, letter in enumerate(text[1:], start=1):
                if letter in short:
                    rest = text[k + 1:]
                    values.append(tail(word, rest) if rest else following)
                    break
    return [value for value in values if value is not None]


def short_flags(texts: list[str]) -> set[str]:
    """Every letter given in a cluster of short options (`-rf` gives r and f)."""
    clusters = (t[1:] for t in texts if t.startswith("-") and not t.startswith("--"))
    return {letter for cluster in clusters for letter in cluster}
