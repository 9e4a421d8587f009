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
    prompt_tokens: int | None = Field(description="None: the server did not report it")
    cached_tokens: int | None = Field(
        description="prompt tokens reused from the backend's cache; None: not reported")
    completion_tokens: int | None = Field(description="None: the server did not report it")
    prefill_seconds: float
    decode_seconds: float
    finish_reason: FinishReason = "stop"
    context_size: int = 0
    drafted_tokens: int = Field(0, description="tokens speculative decoding drafted")
    accepted_tokens: int = Field(0, description="drafted tokens the model accepted")

    @property
    def prefill_tokens_per_second(self) -> float:
        if self.prompt_tokens is None or self.prefill_seconds <= 0:
            return 0.0
        return (self.prompt_tokens - (self.cached_tokens or 0)) / self.prefill_seconds

    @property
    def decode_tokens_per_second(self) -> float:
        if self.completion_tokens is None or self.decode_seconds <= 0:
            return 0.0
        return self.completion_tokens / self.decode_seconds


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
    diff: str | None = Field(
        None, description='the change a file edit would make ("": none); None: not a file edit'
    )
    command: str | None = Field(None, description="for a shell call: the command that would run")


class ToolOutput(_Event):
    """Output of the command running now, as it comes (decoded, not yet redacted). Not part
    of the stream: while a tool runs the loop waits, so a session hands these to its
    `on_output` listener; the call's ToolFinished then holds the output the model gets."""

    type: Literal["tool_output"] = "tool_output"
    text: str


class ApprovalResolved(_Event):
    type: Literal["approval_resolved"] = "approval_resolved"
    call_id: str
    approved: bool
    note: str = ""


# Why a tool call failed, so that failures can be counted without reading their messages.
ToolErrorKind = Literal[
    "malformed",  # the call could not be read, names no tool, or its arguments do not fit
    "repeated_call",  # not run: the same call was made too often already
    "edit_old_equals_new",  # edit_file's `old` and `new` are the same
    "edit_old_not_found",  # edit_file's `old` is not in the file
    "edit_already_made",  # the file already holds what the edit would make
    "unread_file",  # not run: the file was not read first (the error shows it)
    "syntax",  # not run: the change would break the syntax of a file that parsed
    "elided",  # not run: a whole-file write left code out behind a placeholder comment
    "extra_call",  # not run: a step's calls after its first
    "path_not_found",
    "outside_workspace",
    "timed_out",  # a command ran past its time limit and was stopped
    "other",
]


class ToolFinished(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    is_error: bool
    content: tuple[Part, ...]
    summary: str = Field(description="one line for people: what the call did")
    diff: str | None = None
    exit_code: int | None = None
    error_kind: ToolErrorKind | None = Field(
        None, description="why the call failed; None when it did not (is_error false)"
    )

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


class Compacted(Notice):
    """The history shrank to fit the context (agent/compaction.py): old tool outputs masked,
    or the conversation replaced by the model's hand-off summary. A Notice, so every consumer
    shows its `text`; sessions save the new history."""

    type: Literal["compacted"] = "compacted"  # type: ignore[assignment]
    text: str = ""
    kind: Literal["masked", "compacted"]
    tokens_before: int
    tokens_after: int
    context_size: int
    outputs_masked: int = Field(0, description="tool outputs replaced by a one-line stub")
    messages_before: int = Field(0, description="messages the summary replaced")
    focus: str = ""

    def model_post_init(self, context: object) -> None:
        if not self.text:
            object.__setattr__(self, "text", self.line())

    def line(self) -> str:
        """`masked 12 old tool outputs: context 6,100 -> 3,900 tokens of 8,192`"""
        sizes = f"{self.tokens_before:,} -> {self.tokens_after:,} tokens of {self.context_size:,}"
        if self.kind == "masked":
            n = self.outputs_masked
            return f"masked {n} old tool output{'s' if n != 1 else ''}: context {sizes}"
        return f"compacted {self.messages_before} messages into a summary: context {sizes}"


class AttachedFile(BaseModel):
    model_config = ConfigDict(frozen=True)
    path: str
    lines: str  # "whole", or the line ranges attached: "40-72"
    reason: str  # "traceback frame", "named in the prompt", "definition of NAME", "@mention"


class ContextAttached(_Event):
    """What went into the prompt before the model's first step: the repo map, the files the
    task points at (these count as read)."""

    type: Literal["context"] = "context"
    files: tuple[AttachedFile, ...] = ()
    map_files: int = 0  # files the repo map lists (0: no map this turn)
    map_tokens: int = 0

    def line(self) -> str:
        """`context: repo map (12 files), calc.py (whole), parser.py:40-72 (traceback frame)`"""
        shown = [f"repo map ({self.map_files} files, {self.map_tokens} tokens)"] if self.map_files else []
        for f in self.files:
            where = f"{f.path} (whole" if f.lines == "whole" else f"{f.path}:{f.lines} ("
            shown.append(f"{where}{', ' if f.lines == 'whole' else ''}{f.reason})")
        return "context: " + ", ".join(shown)


class VerifyStarted(_Event):
    """The project's tests start, after a turn that changed files (agent/verify.py)."""

    type: Literal["verify_started"] = "verify_started"
    call_id: str = Field(description="the id of the run_shell call that runs them (approval events name it)")
    command: str
    source: str = Field(description="where the command was found, e.g. 'AGENTS.md', 'package.json'")


VerifyOutcome = Literal["passed", "failed", "timed_out", "not_run"]


class VerifyFinished(_Event):
    type: Literal["verify_finished"] = "verify_finished"
    call_id: str = Field(description="as in its VerifyStarted")
    command: str
    outcome: VerifyOutcome
    exit_code: int | None = None
    summary: str = Field(description="one line for people")
    failures: tuple[str, ...] = Field((), description="names of the failing tests, as the output gives them")
    output: str = Field("", description="the output, trimmed head and tail, when the tests did not pass")

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


# Streamed by `gemma-code run` only: the first and the last line of its `--json` output.


class RunStarted(_Event):
    """What runs, where, and the settings that decide what it may do."""

    type: Literal["run_started"] = "run_started"
    session_id: str
    continued: bool = Field(description="true when it goes on with a saved session")
    version: str = Field(description="gemma-code's version")
    model: str
    backend: str
    workspace: str
    approval: str = Field(description="the approval mode: read-only, ask, auto-edit or auto")
    sandbox: str = Field(description="what confines shell commands ('bubblewrap'...), 'off' or 'none'")
    network: bool
    verify: bool = Field(description="whether the project's tests run after a turn that changed files")
    context_size: int
    max_steps: int
    max_tokens: int | None = None
    temperature: float | None = None
    threads: int | None = Field(None, description="CPU threads the model computes on, when known")


class BlockedAction(BaseModel):
    """A tool call the approval mode did not let run, since nobody can approve it headless."""

    model_config = ConfigDict(frozen=True)
    tool: str
    target: str = Field(description="the file or the command it was for ('' if neither)")
    reason: str = Field(description="why it needed approval")
    allowed_by: str | None = Field(
        description="the option that would let it run ('--approval auto-edit'...); None: it asks "
        "in every mode"
    )


class RunFinished(_Event):
    """The run's outcome in one object: the answer, totals, the files changed, why it ended."""

    type: Literal["run_finished"] = "run_finished"
    reason: Literal[TurnEndReason, "error"] = Field(description="as in `done`, or 'error'")
    exit_code: int = Field(description="the status gemma-code exits with (see `gemma-code run --help`)")
    answer: str = Field(description="the model's final answer (the text of its last step)")
    steps: int
    prompt_tokens: int | None = Field(description="None: no step's figure was reported")
    cached_tokens: int | None = Field(description="None: no step's figure was reported")
    completion_tokens: int | None = Field(description="None: no step's figure was reported")
    prefill_seconds: float
    decode_seconds: float
    seconds: float = Field(description="wall-clock time of the run")
    files_changed: tuple[str, ...] = ()
    blocked: tuple[BlockedAction, ...] = Field((), description="calls the approval mode blocked")


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
        Compacted,
        ContextAttached,
        VerifyStarted,
        VerifyFinished,
        RunStarted,
        RunFinished,
    ],
    Field(discriminator="type"),
]

agent_event_adapter: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)


def event_json_schema() -> dict:
    """JSON Schema of one line of `gemma-code run --json` output."""
    return agent_event_adapter.json_schema()
