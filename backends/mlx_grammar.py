"""Grammar-constrained tool calls on MLX: the tool-call GBNF of `grammar.py`, enforced by
llguidance as an mlx-lm logits processor.

The llama.cpp backend hands the same GBNF to llama.cpp's grammar sampler. Here llguidance
turns it into a token mask for each step. With `tool_choice="required"` the mask applies from
the first token; otherwise the model writes freely until it emits the tool-call open marker
(when the vocabulary has it as one token), or opens a JSON call without markup (`JsonOpening`),
and the grammar takes the rest of the call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

import numpy as np

from gemma_code.agent.protocols import ToolSpec

from .grammar import json_call_may_open, json_call_rest_grammar, tool_call_grammar
from .toolcalls import ToolCallParser

OPEN_MARKERS = {"gemma4": "<|tool_call>", "hermes": "<tool_call>"}
GEMMA4_MARKERS = ("<|tool_call>", "<tool_call|>", '<|"|>')


class GrammarError(Exception):
    """The tool-call grammar could not be compiled for this tokenizer."""


def ll_tokenizer(tokenizer):
    """llguidance's view of an mlx-lm tokenizer (about a second to build: keep it)."""
    import llguidance.hf

    hf = getattr(tokenizer, "_tokenizer", tokenizer)
    return llguidance.hf.from_tokenizer(hf, eos_token=sorted(tokenizer.eos_token_ids))


def open_marker_token(tokenizer, fmt: str) -> int | None:
    """The single token that opens a tool call in this vocabulary, if there is one."""
    marker = OPEN_MARKERS.get(fmt)
    ids = tokenizer.encode(marker, add_special_tokens=False) if marker else []
    return ids[0] if len(ids) == 1 else None


def compile_tool_grammar(tools: Sequence[ToolSpec], fmt: str, *, required: bool,
                         encode: Callable[[str], list[int]] | None = None) -> str:
    """The tool-call grammar in llguidance's form (`required`: the open marker included).

    llguidance's GBNF reader has no token references, so Gemma 4's markers are written as
    text, converted, and then turned into references to their single tokens (`encode` gives
    their ids): quoted text would only match ordinary tokens spelling the marker out.
    """
    import llguidance
    from llguidance.gbnf_to_lark import GbnfToLarkError, any_to_lark

    markers = fmt == "gemma4"
    gbnf = tool_call_grammar(tools, fmt, include_open_marker=required, marker_tokens=not markers)
    try:
        lark = any_to_lark(gbnf)
    except GbnfToLarkError as exc:
        raise GrammarError(f"the tool-call grammar does not compile: {exc}") from None
    if markers:
        lark = _marker_references(lark, encode)
    try:
        return llguidance.grammar_from("lark", lark)
    except ValueError as exc:
        raise GrammarError(f"the tool-call grammar does not compile: {exc}") from None


def compile_gbnf(gbnf: str) -> str:
    """A GBNF grammar without token references, in llguidance's form."""
    import llguidance
    from llguidance.gbnf_to_lark import GbnfToLarkError, any_to_lark

    try:
        return llguidance.grammar_from("lark", any_to_lark(gbnf))
    except (GbnfToLarkError, ValueError) as exc:
        raise GrammarError(f"the tool-call grammar does not compile: {exc}") from None


class JsonOpening:
    """Watches the free text for a JSON call opened without markup (a ```` ```json ```` fence,
    a bare answer) and gives the grammar for its rest (`grammar.json_call_rest_grammar`)."""

    def __init__(self, tools: Sequence[ToolSpec], fmt: str, text: Callable[[int], str]) -> None:
        self.tools, self.text, self.done = tools, text, False
        self.parser = ToolCallParser(fmt, {t.name for t in tools})

    def feed(self, token: int) -> str | None:
        """The rest's grammar once `token` opened a call of a known tool, else None."""
        if self.done:
            return None
        self.parser.feed(self.text(token))
        opening = self.parser.json_opening
        if opening is None:
            self.done = self.parser.in_tool_call  # a marked call: the open token decides
            return None
        gbnf = json_call_rest_grammar(self.tools, opening[0], fence=opening[1])
        self.done = gbnf is not None or not json_call_may_open(opening[0])
        return gbnf


def _marker_references(lark: str, encode: Callable[[str], list[int]] | None) -> str:
    if encode is None:
        raise GrammarError("Gemma 4's tool-call grammar needs the tokenizer")
    for marker in GEMMA4_MARKERS:
        ids = encode(marker)
        if len(ids) != 1:
            raise GrammarError(f"{marker} is not one token in this vocabulary")
        lark = lark.replace(json.dumps(marker), f"<[{ids[0]}]>")
    return _terminals_to_rules(lark, "Q")


def _terminals_to_rules(lark: str, name: str) -> str:
    """Make the terminal `name`, and every terminal that uses it, a rule: a token reference
    (the string quote) may only stand in a rule. Lark terminals are the upper-case names."""
    bodies: dict[str, str] = {}
    current = None
    for line in lark.splitlines():
        head = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*:", line)
        if head:
            current = head.group(1)
            bodies[current] = line[head.end():]
        elif current is not None:
            bodies[current] += line
    tainted = {name}
    while True:
        more = {n for n, body in bodies.items() if n.isupper() and n not in tainted
                and tainted & _names(body)}
        if not more:
            break
        tainted |= more
    # Names only, never the insides of "strings" or /regexes/.
    return _NAME_OR_LITERAL.sub(
        lambda m: f"tok_{m.group(0).lower()}" if m.group(0) in tainted else m.group(0), lark)


_NAME_OR_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/|[A-Za-z_][A-Za-z0-9_]*')


def _names(text: str) -> set[str]:
    return {m.group(0) for m in _NAME_OR_LITERAL.finditer(text) if m.group(0)[0] not in '"/'}


class ToolCallConstraint:
    """A logits processor for `generate_step`: only tokens the tool-call grammar allows.

    mlx-lm calls it with every token fed so far (`tokens`, starting with the last prompt
    token) and the logits for the next one.
    """

    def __init__(self, lltok, grammar: str, *, required: bool, open_token: int | None,
                 opening: JsonOpening | None = None) -> None:
        from llguidance.numpy import allocate_token_bitmask

        self.lltok, self.opening = lltok, opening
        self.matcher = self._matcher(grammar)
        self.active = required
        self.open_token = open_token
        self.seen = 1  # the first token is the end of the prompt, not the model's
        self.mask = allocate_token_bitmask(1, lltok.vocab_size)

    def _matcher(self, grammar: str):
        import llguidance

        matcher = llguidance.LLMatcher(self.lltok, grammar, log_level=0)
        if matcher.is_error():
            raise GrammarError(f"the tool-call grammar does not compile: {matcher.get_error()}")
        return matcher

    def __call__(self, tokens, logits):
        import mlx.core as mx
        from llguidance.numpy import fill_next_token_bitmask

        fed = tokens.tolist()
        for token in fed[self.seen:]:
            if self.active:
                self.matcher.consume_token(token)
            elif token == self.open_token:
                self.active = True  # the lazy grammar covers what follows the marker
            elif self.opening is not None and (rest := self.opening.feed(token)) is not None:
                self.matcher, self.active = self._matcher(compile_gbnf(rest)), True
        self.seen = len(fed)
        if not self.active or self.matcher.is_stopped():
            return logits
        fill_next_token_bitmask(self.matcher, self.mask)
        allowed = np.unpackbits(self.mask.view(np.uint8), bitorder="little").astype(bool)
        width = logits.shape[-1]
        allowed = np.pad(allowed[:width], (0, max(0, width - allowed.size)))
        return mx.where(mx.array(allowed), logits, mx.array(-np.inf, dtype=logits.dtype))
