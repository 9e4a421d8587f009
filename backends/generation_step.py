"""One model step, the part both local backends share: the token budget, prefill then decode,
the usage event, and the tool-call parser the streamed text goes through.

A backend subclasses `GenerationStep` with its `_decode`, a generator of events that returns
the step's finish reason; the backend itself provides `_prefill(prompt, cancel)` returning
(tokens reused from its cache, finished) and `context_size` and `tool_format`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from gemma_code.agent.events import BackendEvent, FinishReason, TextDelta, Usage
from gemma_code.agent.protocols import GenerationOptions, ToolSpec

from .toolcalls import ToolCallParser


class GenerationStep:
    """Prefill the prompt, decode, and report usage. `generated`, `end_token`, `end_piece`
    and `streamed_text` are what the backend's prompt history records afterwards; `finish`
    says how the step ended."""

    def __init__(self, backend: Any, prompt: list[int], tools: Sequence[ToolSpec],
                 options: GenerationOptions) -> None:
        self.b, self.prompt, self.tools, self.options = backend, prompt, tools, options
        self.generated: list[int] = []
        self.end_token: int | None = None
        self.end_piece: str | None = None
        self.streamed_text = ""
        self.finish: FinishReason | None = None  # set when the step ends
        self.parser = ToolCallParser(backend.tool_format, {t.name for t in tools})

    def _usage(self, cached: int, prefill: float, decode: float, finish: FinishReason) -> Usage:
        self.finish = finish
        return Usage(
            prompt_tokens=len(self.prompt), cached_tokens=cached,
            completion_tokens=len(self.generated), prefill_seconds=prefill,
            decode_seconds=decode, finish_reason=finish, context_size=self.b.context_size,
        )

    def _budget(self) -> int:
        return min(self.options.max_tokens, self.b.context_size - len(self.prompt) - 1)

    def events(self) -> Iterator[BackendEvent]:
        if self._budget() <= 0:
            yield self._usage(0, 0.0, 0.0, "context_full")
            return
        started = time.perf_counter()
        cached, done = self.b._prefill(self.prompt, self.options.cancel)
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

    def _emit(self, events: list[BackendEvent]) -> Iterator[BackendEvent]:
        for event in events:
            if isinstance(event, TextDelta):
                self.streamed_text += event.text
            yield event

    def _full_or_length(self) -> FinishReason:
        """Why a step that ran out of tokens stopped: the context, or its own token limit."""
        full = len(self.prompt) + len(self.generated) >= self.b.context_size - 1
        return "context_full" if full else "length"
