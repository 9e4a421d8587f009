"""The scripted backend: a deterministic model that plays back a list of turns.

It is the only fake model in the project: tests use it, and demos run it with
`gemma-code run --backend scripted --model script.json "..."`.

A script is JSON, either a list of turns or `{"turns": [...], "chunk_size": 8,
"chunk_delay": 0.0, "vision": false}`. A turn is `{"text": ..., "reasoning": ..., "tool_calls": [{"name": ...,
"arguments": {...}}], "finish_reason": "stop"}`; every key is optional.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gemma_code.agent.events import (
    BackendEvent, FinishReason, ReasoningDelta, TextDelta, ToolCallParsed, Usage,
)
from gemma_code.agent.messages import Message, ToolCall
from gemma_code.agent.protocols import AgentProfile, GenerationOptions, ToolSpec


class ScriptedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptedTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = ""
    reasoning: str = ""
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    finish_reason: FinishReason | None = None


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")
    turns: list[ScriptedTurn]
    chunk_size: int = Field(8, ge=1)
    chunk_delay: float = Field(0.0, ge=0)
    vision: bool = False  # play a model that reads images (else they reach it as OCR text)


class ScriptExhausted(RuntimeError):
    """The agent asked for more turns than the script has."""


def load_script(path: str | Path) -> Script:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read script {path}: {(exc.strerror or str(exc)).lower()}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"cannot read script {path}: not JSON ({exc})") from exc
    try:
        return Script.model_validate({"turns": data} if isinstance(data, list) else data)
    except ValidationError as exc:
        raise ValueError(f"invalid script {path}: {exc.errors()[0]['msg']}") from exc


def _approx_tokens(messages: Sequence[Message]) -> int:
    return sum(len(m.model_dump_json()) for m in messages) // 4


class ScriptedBackend:
    """Plays one scripted turn per `stream` call, in small chunks."""

    name = "scripted"

    def __init__(self, script: Script, context_size: int = 32768,
                 profile: AgentProfile = AgentProfile()) -> None:
        self.script = script
        self.profile = profile
        self.context_size = context_size
        self.vision = script.vision
        self.turns_played = 0
        self.seen: list[list[Message]] = []  # what the model was shown at each step
        self.offered: list[list[str]] = []  # the tools it was offered at each step
        self.temperatures: list[float | None] = []  # each step's sampling temperature

    @classmethod
    def from_turns(cls, turns: list[dict[str, Any]], **kwargs: Any) -> ScriptedBackend:
        return cls(Script.model_validate({"turns": turns, **kwargs}))

    def _chunks(self, text: str) -> Iterator[str]:
        size = self.script.chunk_size
        for start in range(0, len(text), size):
            if self.script.chunk_delay:
                time.sleep(self.script.chunk_delay)
            yield text[start : start + size]

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], options: GenerationOptions
    ) -> Iterator[BackendEvent]:
        if self.turns_played >= len(self.script.turns):
            raise ScriptExhausted(f"the script has only {len(self.script.turns)} turns")
        turn = self.script.turns[self.turns_played]
        self.turns_played += 1
        self.seen.append(list(messages))
        self.offered.append([tool.name for tool in tools])
        self.temperatures.append(options.temperature)
        prompt = _approx_tokens(messages)
        if prompt >= self.context_size:  # as a real model: no room left to write in
            yield Usage(prompt_tokens=prompt, cached_tokens=0, completion_tokens=0,
                        prefill_seconds=0.0, decode_seconds=0.0, finish_reason="context_full",
                        context_size=self.context_size)
            return
        started = time.perf_counter()
        produced = 0
        finish: FinishReason = turn.finish_reason or ("tool_calls" if turn.tool_calls else "stop")
        for kind, text in (("reasoning", turn.reasoning), ("text", turn.text)):
            for chunk in self._chunks(text):
                if options.cancel is not None and options.cancel.is_set():
                    finish = "cancelled"
                    break
                produced += 1
                yield ReasoningDelta(text=chunk) if kind == "reasoning" else TextDelta(text=chunk)
        if finish != "cancelled":
            for call in turn.tool_calls:
                yield ToolCallParsed(call=ToolCall(name=call.name, arguments=call.arguments))
        yield Usage(
            prompt_tokens=prompt, cached_tokens=0, completion_tokens=produced,
            prefill_seconds=0.0, decode_seconds=time.perf_counter() - started,
            finish_reason=finish, context_size=self.context_size,
        )

    def close(self) -> None:
        pass
