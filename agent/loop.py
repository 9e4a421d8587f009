"""The agent loop: ask the model, run the tools it calls, repeat until it answers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from .events import (
    AgentEvent, ReasoningDelta, StepStarted, TextDelta, ToolCallParsed, ToolCallStarted,
    ToolFinished, TurnDone, Usage,
)
from .messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from .protocols import Backend, GenerationOptions, ToolContext, ToolResult
from .registry import ToolRegistry


@dataclass
class Agent:
    """Everything one conversation needs; `messages` grows as the conversation goes on."""

    backend: Backend
    tools: ToolRegistry
    ctx: ToolContext
    options: GenerationOptions
    max_steps: int = 40
    messages: list[Message] = field(default_factory=list)


def _record(agent: Agent, call: ToolCall, result: ToolResult) -> ToolFinished:
    agent.messages.append(ToolMessage(
        call_id=call.id, name=call.name, content=result.content, is_error=result.is_error
    ))
    return ToolFinished(
        call_id=call.id, name=call.name, is_error=result.is_error, content=result.content,
        summary=result.summary, diff=result.diff, exit_code=result.exit_code,
    )


MAX_REPEATS = 3  # identical calls allowed in one turn; the next one ends the turn


def _call_key(call: ToolCall) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True)


def _repeat_note(times: int) -> str:
    # Small models often re-issue a call whose result they already have instead of answering.
    return (
        f"(You already made this exact call {times} time{'s' if times > 1 else ''} in this task. "
        "Do not repeat it: use the result you have. If the task is done, answer the user "
        "in plain text now without calling a tool.)"
    )


def run_turn(agent: Agent, user: UserMessage) -> Iterator[AgentEvent]:
    """Run one user turn to its end, yielding every event on the way."""
    agent.messages.append(user)
    specs = agent.tools.specs()
    cancel = agent.ctx.cancel
    made: Counter[str] = Counter()
    for step in range(1, agent.max_steps + 1):
        yield StepStarted(step=step)
        text, reasoning, calls = [], [], []
        usage = None
        for event in agent.backend.stream(agent.messages, specs, agent.options):
            if isinstance(event, ToolCallParsed):
                calls.append(event.call)
                continue
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, Usage):
                usage = event
            yield event
        agent.messages.append(AssistantMessage(
            text="".join(text), reasoning="".join(reasoning), tool_calls=tuple(calls)
        ))
        finish = usage.finish_reason if usage else "stop"
        if finish in ("cancelled", "context_full") or not calls:
            reason = {"stop": "answered", "tool_calls": "answered"}.get(finish, finish)
            yield TurnDone(reason=reason, steps=step)
            return
        if any(made[_call_key(call)] >= MAX_REPEATS for call in calls):
            # A model stuck in a loop only burns time; stop it, keeping the history well-formed.
            for call in calls:
                yield _record(agent, call, ToolResult.error(
                    f"not run: this exact call was already made {MAX_REPEATS} times"))
            yield TurnDone(reason="repeated", steps=step)
            return
        for call in calls:
            if cancel.is_set():
                # Every call gets a result, so the conversation stays well-formed.
                yield _record(agent, call, ToolResult.error("cancelled by the user"))
                continue
            yield ToolCallStarted(call=call)
            result = yield from agent.tools.run(call, agent.ctx)
            key = _call_key(call)
            if made[key]:
                result = result.with_note(_repeat_note(made[key]))
            made[key] += 1
            yield _record(agent, call, result)
        if cancel.is_set():
            yield TurnDone(reason="cancelled", steps=step)
            return
    yield TurnDone(reason="max_steps", steps=agent.max_steps)
