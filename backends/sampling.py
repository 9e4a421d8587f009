"""Token sampling for the llama.cpp backend: a grammar checked on the chosen token first.

llama-cpp-python puts a grammar into the sampler chain, so the grammar judges every token of
the vocabulary (151k for Qwen2.5, 262k for Gemma) before each sample: on CPU that cost a
third of a tool call's decoding time. `CheckedSampler` samples as the chain would without the
grammar, asks the grammar about that one token, and only when it is refused filters the whole
vocabulary and samples again, as llama.cpp's own common sampler does. Greedy decoding gives
exactly the tokens of the grammar-first chain (the best token the grammar allows is the best
token, or the grammar refused the best and every token is judged). At a temperature an allowed
token t comes out with probability p(t) + (1 - Z) p(t) / Z = p(t) / Z, Z the allowed tokens'
share: the constrained distribution, except that top-k and top-p cut the first draw's
candidates from the whole vocabulary rather than from the allowed tokens.
"""

from __future__ import annotations

import ctypes
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import _internals

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)])
assert _TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)


class CheckedSampler:
    """`LlamaSampler.sample`'s contract (sample at row `idx` of the context's logits, then
    accept the token) with the grammar checked on the sampled token before the vocabulary."""

    def __init__(self, llm: Any, grammar: Any, **options: Any) -> None:
        self.chain = llm._init_sampler(**options)  # penalties and the draw, no grammar
        self.grammar: Any = None
        if grammar is None:
            return
        self.grammar = _internals.LlamaSampler()
        self.grammar.add_grammar(llm._model, grammar)
        self._vocab = llm.n_vocab()
        self._ids = np.arange(self._vocab, dtype=np.intc)
        self._data = np.empty(self._vocab, dtype=_TOKEN_DATA)
        self._one = np.empty(1, dtype=_TOKEN_DATA)

    def sample(self, ctx: Any, idx: int = -1) -> int:
        if self.grammar is None:
            return self.chain.sample(ctx, idx)  # llama.cpp samples and accepts in one call
        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._vocab,))
        token = self._draw(logits, (self.chain,))
        if not self._allowed(token, logits[token]):
            token = self._draw(logits, (self.grammar, self.chain))
        self.chain.accept(token)
        self.grammar.accept(token)
        return token

    def close(self) -> None:
        self.chain.close()
        if self.grammar is not None:
            self.grammar.close()

    def _draw(self, logits: np.ndarray, samplers: tuple[Any, ...]) -> int:
        """The token `samplers`, applied in order to every candidate, select."""
        data = self._data
        data["id"], data["logit"], data["p"] = self._ids, logits, 0.0
        candidates = _candidates(data)
        for sampler in samplers:
            llama_cpp.llama_sampler_apply(sampler.sampler, ctypes.byref(candidates))
        if candidates.selected < 0:
            raise RuntimeError("llama.cpp's sampler chain selected no token")
        return int(candidates.data[candidates.selected].id)

    def _allowed(self, token: int, logit: float) -> bool:
        one = self._one
        one["id"], one["logit"], one["p"] = token, logit, 0.0
        candidates = _candidates(one)
        llama_cpp.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
        return bool(np.isfinite(candidates.data[0].logit))


def _candidates(data: np.ndarray) -> Any:
    pointer = data.ctypes.data_as(llama_cpp.llama_token_data_p)
    return llama_cpp.llama_token_data_array(data=pointer, size=len(data), selected=-1,
                                            sorted=False)
