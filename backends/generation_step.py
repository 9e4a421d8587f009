"""One model step, the part both local backends share: the token budget, prefill then decode,
the usage event, and the tool-call parser the streamed text goes through.

A step drives an `Engine` (the llama.cpp and MLX backends are engines). A backend subclasses
`GenerationStep` with its `_decode`, a generator of events that returns the step's finish
reason; it draws tokens through the engine's methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any, Protocol

from gemma_code.agent.events import BackendEvent, FinishReason, TextDelta, ToolCallParsed, Usage
from gemma_code.agent.protocols import GenerationOptions, ToolSpec

from .drafting import DraftStats
from .grammar import json_call_may_open, json_call_rest_grammar
from .toolcalls import ToolCallParser, ToolFormat


# A model caught in a loop (one line written again and again inside a call's string) would
# run to its token limit: a tail of at least RUNAWAY_SPAN tokens that is one block of up to
# RUNAWAY_PERIOD tokens repeated RUNAWAY_REPEATS times or more ends the step.
RUNAWAY_SPAN = 256
RUNAWAY_REPEATS = 8
RUNAWAY_PERIOD = 128
_RUNAWAY_EVERY = 16  # tokens between checks
RUNAWAY_ERROR = ("it wrote the same text over and over and was cut off; make the call again "
                 "without the repetition")


def repeating(tokens: Sequence[int]) -> bool:
    """Whether `tokens` end in one block repeated as `RUNAWAY_*` describe."""
    n = len(tokens)
    for period in range(1, RUNAWAY_PERIOD + 1):
        span = max(RUNAWAY_SPAN, RUNAWAY_REPEATS * period)
        if span > n:
            break  # the spans only grow with the period
        if tokens[n - span + period:] == tokens[n - span:n - period]:
            return True
    return False


class Engine(Protocol):
    """A model with a cache, as a generation step drives it."""

    context_size: int
    tool_format: ToolFormat

    def prefill(self, tokens: list[int], cancel: threading.Event | None) -> tuple[int, bool]:
        """Bring the cache up to `tokens`, ready to sample what follows; returns (tokens
        reused from the cache, finished: False when `cancel` was set first)."""
        ...

    def sample(self, context: list[int], constraint: Any, temperature: float | None,
               limit: int) -> Generator[int, None, None]:
        """Tokens drawn after the prefilled `context` under `constraint` (None: free text), at
        `temperature` (None: the model's own). The step counts its tokens; `limit` is its
        budget, for an engine that must know it in advance."""
        ...

    def constraint(self, tools: Sequence[ToolSpec], required: bool) -> Any:
        """What keeps tool calls well formed, or None. `required`: the answer is a call from its
        first token; otherwise it constrains a call the model opens (llama.cpp's step switches
        to it after the opening marker, MLX's waits for the marker itself)."""
        ...

    def grammar_constraint(self, gbnf: str) -> Any:
        """A constraint from grammar text (the rest of a JSON call the model opened without
        markup), or None when this engine cannot switch to one mid-step."""
        ...

    def is_end(self, token: int) -> bool:
        """Whether `token` ends the model's turn."""
        ...

    def piece(self, token: int) -> bytes:
        """The text of `token` (it may end inside a UTF-8 character)."""
        ...


class GenerationStep:
    """Prefill the prompt, decode, and report usage. `generated`, `end_token`, `end_piece`
    and `streamed_text` are what the backend's prompt history records afterwards; `finish`
    says how the step ended."""

    def __init__(self, engine: Engine, prompt: list[int], tools: Sequence[ToolSpec],
                 options: GenerationOptions) -> None:
        self.engine, self.prompt, self.tools, self.options = engine, prompt, tools, options
        self.generated: list[int] = []
        self.end_token: int | None = None
        self.end_piece: str | None = None
        self.streamed_text = ""
        self.finish: FinishReason | None = None  # set when the step ends
        self.parser = ToolCallParser(engine.tool_format, {t.name for t in tools})
        self._json_decided = False  # an unmarked JSON call was constrained or ruled out
        self.drafts = DraftStats()  # speculative decoding's count, for an engine that drafts

    def _usage(self, cached: int, prefill: float, decode: float, finish: FinishReason) -> Usage:
        self.finish = finish
        return Usage(
            prompt_tokens=len(self.prompt), cached_tokens=cached,
            completion_tokens=len(self.generated), prefill_seconds=prefill,
            decode_seconds=decode, finish_reason=finish, context_size=self.engine.context_size,
            drafted_tokens=self.drafts.drafted, accepted_tokens=self.drafts.accepted,
        )

    def _budget(self) -> int:
        return min(self.options.max_tokens, self.engine.context_size - len(self.prompt) - 1)

    def events(self) -> Iterator[BackendEvent]:
        if self._budget() <= 0:
            yield self._usage(0, 0.0, 0.0, "context_full")
            return
        started = time.perf_counter()
        cached, done = self.engine.prefill(self.prompt, self.options.cancel)
        prefill = time.perf_counter() - started
        if not done:
            yield self._usage(cached, prefill, 0.0, "cancelled")
            return
        started = time.perf_counter()
        finish = yield from self._decode()
        yield self._usage(cached, prefill, time.perf_counter() - started, finish)

    def _decode(self) -> Iterator[BackendEvent]:
        """Sample until a stop; yields the parser's events and returns the finish reason."""
        raise NotImplementedError

    def opened_call(self) -> Any:
        """The constraint for the rest of a call the model has just opened, else None: after
        a call's marker, or once a ```` ```json ```` fence or a bare answer starts a call of a
        known tool (`grammar.json_call_rest_grammar`)."""
        if self.parser.in_tool_call:
            return self.engine.constraint(self.tools, False)
        opening = None if self._json_decided else self.parser.json_opening
        if opening is None:
            return None
        text, fence = opening
        gbnf = json_call_rest_grammar(self.tools, text, fence=fence)
        if gbnf is None:
            self._json_decided = not json_call_may_open(text)
            return None
        self._json_decided = True
        return self.engine.grammar_constraint(gbnf)

    def runaway(self) -> bool:
        """Whether the step has been repeating itself (checked every few tokens)."""
        return len(self.generated) % _RUNAWAY_EVERY == 0 and repeating(self.generated)

    def cut_runaway(self, pending: list[BackendEvent]) -> Iterator[BackendEvent]:
        """End a step that `runaway` caught: `pending` (the parser's last events), a call it
        was writing marked as cut off. The step's finish is "length"."""
        for event in pending:
            if isinstance(event, ToolCallParsed):
                event = ToolCallParsed(call=event.call.model_copy(
                    update={"parse_error": RUNAWAY_ERROR}))
            yield from self._emit([event])

    def _emit(self, events: list[BackendEvent]) -> Iterator[BackendEvent]:
        for event in events:
            if isinstance(event, TextDelta):
                self.streamed_text += event.text
            yield event

    def _full_or_length(self) -> FinishReason:
        """Why a step that ran out of tokens stopped: the context, or its own token limit."""
        full = len(self.prompt) + len(self.generated) >= self.engine.context_size - 1
        return "context_full" if full else "length"
