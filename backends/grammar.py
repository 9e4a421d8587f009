"""GBNF grammars that make a model write a well-formed call of one of the given tools.

Under `tool_call_grammar(...)` constrained decoding can only produce a call of an existing
tool whose arguments have the types the tool's JSON schema asks for (objects with their
required and optional properties, strings, integers, numbers, booleans, enums, arrays,
`X | None`, `$ref`s to `$defs`, string length bounds). Patterns, formats and numeric ranges are not
enforced (the tool's pydantic model still checks them). Native Gemma 4 strings may hold
anything but `<|"|>`; length-bounded ones also no `<|` (and count `<x` as one unit).

Special tokens in llama.cpp grammars (read from vendor/llama.cpp/src/llama-grammar.cpp in
llama-cpp-python 0.3.36): a quoted literal such as `"<|tool_call>"` is matched character by
character against each candidate token's text, and a special token's text is its marker, so
the literal accepts both the single special token and the same characters spelled with
ordinary tokens. An unquoted `<|tool_call>` (or `<[48]>`) in a rule is a token reference:
when the grammar is loaded it must tokenize to exactly one token of the model's vocabulary,
and then only that token matches. Gemma 4 grammars use token references by default
(`marker_tokens=True`), so the model cannot spell a marker with ordinary tokens that it would
never have been trained to read back; `marker_tokens=False` gives plain-text markers for a
vocabulary without them. Hermes markers are always plain text (it works with either).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from gemma_code.agent.protocols import ToolSpec

from .grammar_schema import GEMMA4, JSON, Rules, SchemaConverter, literal

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

_GEMMA4_OPEN, _GEMMA4_CLOSE, _GEMMA4_QUOTE = "<|tool_call>", "<tool_call|>", '<|"|>'


def tool_call_grammar(
    specs: Sequence[ToolSpec],
    fmt: Literal["gemma4", "hermes", "plain"],
    *,
    include_open_marker: bool = True,
    marker_tokens: bool = True,
) -> str:
    """A GBNF grammar (root rule `root`) for exactly one call of one of `specs`.

    `include_open_marker=False` is the lazy mode: the model already wrote the open marker
    freely and the grammar covers the rest of the call, up to and including the close
    marker. `fmt="plain"` is the bare JSON object `{"name": ..., "arguments": ...}`.
    `marker_tokens` (Gemma 4 only): markers and `<|"|>` as special-token references.
    """
    if not specs:
        raise ValueError("a tool-call grammar needs at least one tool")
    if fmt == "gemma4":
        return _gemma4_grammar(specs, include_open_marker, marker_tokens)
    if fmt in ("hermes", "plain"):
        return _json_grammar(specs, fmt, include_open_marker)
    raise ValueError(f"unknown tool-call format {fmt!r}")


def _arguments_rule(converter: SchemaConverter, spec: ToolSpec) -> str:
    schema = spec.parameters or {"type": "object", "properties": {}}
    return converter.root(schema, f"args-{spec.name}")


def _json_grammar(specs: Sequence[ToolSpec], fmt: str, include_open_marker: bool) -> str:
    rules = Rules()
    converter = SchemaConverter(JSON, rules)
    calls = []
    head, arguments = literal('{"name":'), literal('"arguments":')
    for spec in specs:
        args = _arguments_rule(converter, spec)
        name = literal(f'"{spec.name}",')
        calls.append(f'{head} ws {name} ws {arguments} ws {args} "}}"')
    rules.add("call", " | ".join(f"( {c} )" for c in calls))
    if fmt == "plain":
        rules.add("root", "call")
    elif include_open_marker:
        rules.add("root", f'{literal("<tool_call>")} "\\n" call "\\n" {literal("</tool_call>")}')
    else:
        rules.add("root", f'"\\n"? call "\\n" {literal("</tool_call>")}')
    return rules.render()


def _gemma4_grammar(
    specs: Sequence[ToolSpec], include_open_marker: bool, marker_tokens: bool
) -> str:
    def marker(text: str) -> str:
        return text if marker_tokens else literal(text)

    rules = Rules()
    rules.add("q", marker(_GEMMA4_QUOTE))
    converter = SchemaConverter(GEMMA4, rules)
    calls = [f"{literal(spec.name)} {_arguments_rule(converter, spec)}" for spec in specs]
    rules.add("call", '"call:" ( ' + " | ".join(calls) + " )")
    opener = marker(_GEMMA4_OPEN) + " " if include_open_marker else ""
    rules.add("root", f"{opener}call {marker(_GEMMA4_CLOSE)}")
    return rules.render()


def compile_grammar(llama: Llama, gbnf: str) -> LlamaGrammar:
    """`gbnf` as a `LlamaGrammar`, after checking that llama.cpp accepts it with the
    vocabulary of `llama`.

    `LlamaGrammar.from_string` does not parse the grammar; llama.cpp does so only when
    sampling starts, and a grammar it rejects there (a syntax error, a token reference the
    vocabulary lacks) would crash the sampler. Raises ValueError instead.
    """
    from llama_cpp import LlamaGrammar
    from llama_cpp import llama_cpp as C

    vocab = C.llama_model_get_vocab(llama.model)
    sampler = C.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise ValueError(
            "llama.cpp rejected the tool-call grammar (its log says where); with "
            "marker_tokens=True the model's vocabulary must hold the markers as single tokens"
        )
    C.llama_sampler_free(sampler)
    return LlamaGrammar.from_string(gbnf, verbose=False)


# An unmarked JSON call (in a ```json fence, or a bare answer) is constrained once the model
# has written `{"name": "` and the first letter of the name: a JSON block that is data, not
# a call, stays free (`{"name": "demo", ...}`), and the grammar continues from that text.
_JSON_HEAD = re.compile(
    r'\s*(?P<array>\[\s*)?\{\s*"name"\s*:\s*"(?P<name>[\w.\-]+)(?P<closed>"\s*(?P<comma>,\s*)?)?')
_JSON_OPENINGS = ('{"name":"', '[{"name":"')


def json_call_may_open(opened: str) -> bool:
    """Whether `opened` may still become the head `json_call_rest_grammar` continues."""
    compact = "".join(opened.split())
    return any(head.startswith(compact) for head in _JSON_OPENINGS)


def json_call_rest_grammar(specs: Sequence[ToolSpec], opened: str, *, fence: bool) -> str | None:
    """A GBNF grammar for the rest of a JSON call whose start `opened` the model wrote freely,
    or None when `opened` is no such start (yet) or names no tool. `fence`: a closing fence
    line follows the call; a call opened with `[` is closed as a one-call array."""
    head = _JSON_HEAD.fullmatch(opened)
    if head is None or not specs:
        return None
    partial, closed = head.group("name"), head.group("closed") is not None
    rules = Rules()
    converter = SchemaConverter(JSON, rules)
    rules.add("cws", "[ \\t\\n]{0,12}")  # the models' own layout, within reason
    arguments = literal('"arguments":')
    calls = []
    for spec in specs:
        if spec.name == partial if closed else spec.name.startswith(partial):
            rest = "" if closed else literal(spec.name[len(partial):] + '"')
            comma = "" if head.group("comma") else '"," cws'
            args = _arguments_rule(converter, spec)
            calls.append(f'{rest} cws {comma} {arguments} cws {args} cws "}}"')
    if not calls:
        return None
    array = ' cws "]"' if head.group("array") else ""
    close = ' "\\n" "```"' if fence else ""
    rules.add("root", "( " + " | ".join(f"( {c} )" for c in calls) + f" ){array}{close}")
    return rules.render()
