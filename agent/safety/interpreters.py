"""Interpreters, downloads and decoders: where a shell, python, perl, ruby or node takes its
program from.

A download or decoded data piped into an interpreter that reads its program from stdin, or a
script whose text comes from one (`bash -c "$(curl ...)"`, `sh -c "$(base64 -d <<< ...)"`),
runs code nobody has read.
"""

from __future__ import annotations

import re

from .shell_syntax import Word

DOWNLOADERS = frozenset({"curl", "wget", "fetch", "http", "https", "xh"})
# Builtins that run a script: `eval` its arguments, `source`/`.` a file, `trap` later.
SCRIPT_RUNNERS = frozenset({"eval", "source", ".", "trap"})
# Commands that turn data into other text: what they print cannot be read from the line.
_ALWAYS_DECODE = frozenset({"gunzip", "zcat", "bzcat", "bunzip2", "xzcat", "unxz", "lzcat",
                            "unzstd", "zstdcat", "uncompress", "uudecode", "rev", "tr",
                            "unlzma", "lz4cat"})
_DECODE_WITH_FLAG = frozenset({"base64", "base32", "basenc", "gzip", "bzip2", "xz", "zstd", "lz4",
                               "brotli", "gpg", "gpg2", "openssl", "lzma"})
_DECODE_FLAGS = frozenset({"--decode", "--decompress", "--decrypt", "--uncompress"})
# Programs whose output is meant for `eval` and comes from the program, not from the line.
SETUP_PRINTERS = frozenset({"ssh-agent", "gpg-agent", "direnv", "pyenv", "rbenv", "nodenv",
                            "goenv", "jenv", "plenv", "brew", "conda", "mamba", "micromamba",
                            "starship", "zoxide", "fnm", "mise", "rtx", "opam", "dircolors",
                            "keychain", "luarocks", "rustup", "atuin", "fzf", "thefuck",
                            "register-python-argcomplete", "kubectl", "helm", "gh"})
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


def interpreter_family(name: str) -> str | None:
    """"shell", "python", "perl", "ruby" or "node" for an interpreter's name, else None."""
    if name in _SHELLS:
        return "shell"
    if _PYTHON.fullmatch(name):
        return "python"
    return {"perl": "perl", "ruby": "ruby", "node": "node", "nodejs": "node"}.get(name)


def program(family: str, args: list[Word]) -> tuple[str, Word | None]:
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


def reads_program_from_stdin(name: str, args: list[Word]) -> bool:
    """Whether the command `name args` runs what arrives on its stdin."""
    if name in ("source", "."):
        return bool(args) and args[0].text in _STDIN_FILES
    family = interpreter_family(name)
    return family is not None and program(family, args)[0] == "stdin"


def decodes(name: str, args: list[Word]) -> bool:
    """Whether `name args` prints decoded, decompressed or decrypted data (`base64 -d`)."""
    if name in _ALWAYS_DECODE:
        return True
    if name == "xxd":
        return any(w.text.startswith("-r") or w.text == "--revert" for w in args)
    if name not in _DECODE_WITH_FLAG:
        return False
    for word in args:
        text = word.text
        if text in _DECODE_FLAGS or (text.startswith("-") and not text.startswith("--")
                                     and ("d" in text[1:] or text == "-D")):
            return True
    return False
