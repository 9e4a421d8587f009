"""Events: what a backend streams to the loop, and what the loop streams to its consumer.

Every event is a frozen pydantic model with a `type` tag, so the headless `--json` printer
writes `event.model_dump_json()` and `gemma-code schema` prints the JSON Schema of the
stream. The TUI and the headless printer consume the same events.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .messages import Part, ToolCall


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


# Streamed by backends and passed on by the loop.


class TextDelta(_Event):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ReasoningDelta(_Event):
    type: Literal["reasoning_delta"] = "reasoning_delta"
    text: str


FinishReason = Literal["stop", "tool_calls", "length", "context_full", "cancelled"]


class Usage(_Event):
    """Token and time accounting of one model step (one backend.stream call)."""

    type: Literal["usage"] = "usage"
    prompt_tokens: int
    cached_tokens: int = Field(description="prompt tokens reused from the backend's cache")
    completion_tokens: int
    prefill_seconds: float
    decode_seconds: float
    finish_reason: FinishReason = "stop"
    context_size: int = 0

    @property
    def prefill_tokens_per_second(self) -> float:
        new = self.prompt_tokens - self.cached_tokens
        return new / self.prefill_seconds if self.prefill_seconds > 0 else 0.0

    @property
    def decode_tokens_per_second(self) -> float:
        return self.completion_tokens / self.decode_seconds if self.decode_seconds > 0 else 0.0


class ToolCallParsed(_Event):
    """A complete tool call, as a backend read it from the model's output."""

    type: Literal["tool_call_parsed"] = "tool_call_parsed"
    call: ToolCall


BackendEvent = Union[TextDelta, ReasoningDelta, ToolCallParsed, Usage]


# Streamed by the loop only.


class StepStarted(_Event):
    type: Literal["step_started"] = "step_started"
    step: int


class ToolCallStarted(_Event):
    type: Literal["tool_call"] = "tool_call"
    call: ToolCall


class ApprovalNeeded(_Event):
    type: Literal["approval_needed"] = "approval_needed"
    call: ToolCall
    reason: str
    always: str | None = Field(
        None, description='what "approve always" would allow from now on; None: not offered'
    )


class ApprovalResolved(_Event):
    type: Literal["approval_resolved"] = "approval_resolved"
    call_id: str
    approved: bool
    note: str = ""


class ToolFinished(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    is_error: bool
    content: tuple[Part, ...]
    summary: str = Field(description="one line for people: what the call did")
    diff: str | None = None
    exit_code: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.content if p.type == "text")


TurnEndReason = Literal["answered", "max_steps", "repeated", "cancelled", "context_full", "length"]


class TurnDone(_Event):
    type: Literal["done"] = "done"
    reason: TurnEndReason
    steps: int


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str


class Notice(_Event):
    """Something the person should know that is not part of the conversation."""

    type: Literal["notice"] = "notice"
    text: str


AgentEvent = Annotated[
    Union[
        StepStarted,
        TextDelta,
        ReasoningDelta,
        ToolCallStarted,
        ApprovalNeeded,
        ApprovalResolved,
        ToolFinished,
        Usage,
        TurnDone,
        ErrorEvent,
        Notice,
    ],
    Field(discriminator="type"),
]

agent_event_adapter: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)


def event_json_schema() -> dict:
    """JSON Schema of one line of `gemma-code run --json` output."""
    return agent_event_adapter.json_schema()
