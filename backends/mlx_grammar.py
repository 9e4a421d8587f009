"""Grammar-constrained tool calls on MLX: the tool-call GBNF of `grammar.py`, enforced by
llguidance as an mlx-lm logits processor.

The llama.cpp backend hands the same GBNF to llama.cpp's grammar sampler. Here llguidance
turns it into a token mask for each step. With `tool_choice="required"` the mask applies from
the first token; otherwise the model writes freely until it emits the tool-call open marker
(when the vocabulary has it as one token) and the grammar takes the rest of the call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gemma_code.agent.protocols import ToolSpec

from .grammar import tool_call_grammar

OPEN_MARKERS = {"gemma4": "<|tool_call>", "hermes": "<tool_call>"}


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


def compile_tool_grammar(tools: Sequence[ToolSpec], fmt: str, *, required: bool) -> str:
    """The tool-call grammar in llguidance's form (`required`: the open marker included)."""
    import llguidance

    try:
        return llguidance.grammar_from("gbnf", tool_call_grammar(tools, fmt, include_open_marker=required))
    except ValueError as exc:
        raise GrammarError(f"the tool-call grammar does not compile: {exc}") from None


class ToolCallConstraint:
    """A logits processor for `generate_step`: only tokens the tool-call grammar allows.

    mlx-lm calls it with every token fed so far (`tokens`, starting with the last prompt
    token) and the logits for the next one.
    """

    def __init__(self, lltok, grammar: str, *, required: bool, open_token: int | None) -> None:
        import llguidance
        from llguidance.numpy import allocate_token_bitmask

        self.matcher = llguidance.LLMatcher(lltok, grammar, log_level=0)
        if self.matcher.is_error():
            raise GrammarError(f"the tool-call grammar does not compile: {self.matcher.get_error()}")
        self.active = required
        self.open_token = open_token
        self.seen = 1  # the first token is the end of the prompt, not the model's
        self.mask = allocate_token_bitmask(1, lltok.vocab_size)

    def __call__(self, tokens, logits):
        import mlx.core as mx
        from llguidance.numpy import fill_next_token_bitmask

        fed = tokens.tolist()
        for token in fed[self.seen:]:
            if self.active:
                self.matcher.consume_token(token)
            elif token == self.open_token:
                self.active = True  # the lazy grammar covers what follows the marker
        self.seen = len(fed)
        if not self.active or self.matcher.is_stopped():
            return logits
        fill_next_token_bitmask(self.matcher, self.mask)
        allowed = np.unpackbits(self.mask.view(np.uint8), bitorder="little").astype(bool)
        width = logits.shape[-1]
        allowed = np.pad(allowed[:width], (0, max(0, width - allowed.size)))
        return mx.where(mx.array(allowed), logits, mx.array(-np.inf, dtype=logits.dtype))
