"""The agent loop: ask the model, run the tools it calls, repeat until it answers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from .events import (
    AgentEvent, Notice, ReasoningDelta, StepStarted, TextDelta, ToolCallParsed, ToolCallStarted,
    ToolFinished, TurnDone, Usage,
)
from .messages import AssistantMessage, Message, ToolCall, ToolMessage, UserMessage
from .prose_fix import fixes_as_calls, holds_fix, nudge
from .protocols import Backend, GenerationOptions, ToolContext, ToolError, ToolResult
from .registry import ToolRegistry


@dataclass
class Agent:
    """Everything one conversation needs; `messages` grows as the conversation goes on.

    `prose_nudge`: an answer that holds a fix as prose gets one reply asking to apply it.
    `retry_temperature` (0: off): a step that repeats an earlier call is sampled once more at
    this temperature before it counts as a repeat."""

    backend: Backend
    tools: ToolRegistry
    ctx: ToolContext
    options: GenerationOptions
    max_steps: int = 40
    messages: list[Message] = field(default_factory=list)
    prose_nudge: bool = False
    retry_temperature: float = 0.0
    # Before each step: may shrink `messages` to fit the context (agent/compaction.py).
    before_step: Callable[[Agent], Iterator[AgentEvent]] | None = None


def _record(agent: Agent, call: ToolCall, result: ToolResult) -> ToolFinished:
    agent.messages.append(ToolMessage(
        call_id=call.id, name=call.name, content=result.content, is_error=result.is_error
    ))
    return ToolFinished(
        call_id=call.id, name=call.name, is_error=result.is_error, content=result.content,
        summary=result.summary, diff=result.diff, exit_code=result.exit_code,
        error_kind=(result.error_kind or "other") if result.is_error else None,
    )


MAX_REPEATS = 3  # identical calls allowed in one turn; the next one ends the turn


def _call_key(call: ToolCall) -> tuple[str, str]:
    return call.name, json.dumps(call.arguments, sort_keys=True)


def _forget_looks(agent: Agent, made: Counter[tuple[str, str]]) -> None:
    """After a file changed, reads, searches and commands are no longer repeats: running the
    tests again after an edit is what a model should do. Edits keep their counts."""
    for key in [key for key in made if not agent.tools.edits_files(key[0])]:
        del made[key]


def _repeat_note(times: int) -> str:
    # Small models often re-issue a call whose result they already have instead of answering.
    return (
        f"(You already made this exact call {times} time{'s' if times > 1 else ''} in this task. "
        "Do not repeat it: use the result you have. If the task is done, answer the user "
        "in plain text now without calling a tool.)"
    )


@dataclass
class _Step:
    text: str = ""
    reasoning: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"


def _generate(agent: Agent, specs, options: GenerationOptions) -> Iterator[AgentEvent]:
    """Stream one model step to the consumer; returns it as a `_Step`."""
    text, reasoning, step = [], [], _Step()
    for event in agent.backend.stream(agent.messages, specs, options):
        if isinstance(event, ToolCallParsed):
            step.calls.append(event.call)
            continue
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, Usage):
            step.finish = event.finish_reason
        yield event
    step.text, step.reasoning = "".join(text), "".join(reasoning)
    return step


def _next_step(agent: Agent, specs, made: Counter[tuple[str, str]]) -> Iterator[AgentEvent]:
    """A model step; one that repeats an earlier call is sampled again once, hotter (a model at
    temperature 0 repeats itself exactly). The discarded step never enters the history."""
    step = yield from _generate(agent, specs, agent.options)
    if (agent.retry_temperature > 0 and step.finish == "tool_calls" and step.calls
            and made[_call_key(step.calls[0])]):
        hotter = max(agent.retry_temperature, agent.options.temperature or 0.0)
        yield Notice(text=f"the model repeated an earlier call; sampling that step again at "
                          f"temperature {hotter:g}")
        retried = yield from _generate(agent, specs, replace(agent.options, temperature=hotter))
        if retried.calls or retried.text.strip() or retried.finish != "stop":
            step = retried  # else (an empty answer) the repeat stands, with its note and guard
    agent.messages.append(AssistantMessage(
        text=step.text, reasoning=step.reasoning, tool_calls=tuple(step.calls)
    ))
    return step


def _run_calls(agent: Agent, calls: list[ToolCall],
               made: Counter[tuple[str, str]]) -> Iterator[AgentEvent]:
    """Run the step's first call; the others are answered unrun (one result before the next).
    Returns whether a file changed."""
    first, *rest = calls
    if agent.ctx.cancel.is_set():
        result = ToolResult.error("cancelled by the user")  # every call gets a result
    else:
        yield ToolCallStarted(call=first)
        result = yield from agent.tools.run(first, agent.ctx)
        key = _call_key(first)
        if made[key]:
            result = result.with_note(_repeat_note(made[key]))
        if result.error_kind != "unread_file":  # refused unrun: the same call is now right
            made[key] += 1
    yield _record(agent, first, result)
    for call in rest:
        yield _record(agent, call, ToolResult.error(
            f"not run: one call at a time. {first.name} ran; make this call again if it is "
            "still needed after its result.", "extra_call"))
    return bool(result.diff) and not result.is_error


def _apply_prose_fix(agent: Agent, step: _Step,
                     made: Counter[tuple[str, str]]) -> Iterator[AgentEvent]:
    """An answer holding its fix as a code block: the call that applies it runs as if the
    model had made it, else the model is asked once to apply it. Returns None when the answer
    holds no fix (the turn ends), else (whether a file changed, whether that used the turn's
    one go: not when every file was unread, so the call only showed it to the model)."""
    ctx = agent.ctx
    calls = fixes_as_calls(step.text, ctx.workspace, agent.tools.names(), ctx.cancel)
    if calls:
        blind = not any(_was_read(ctx, call.arguments["path"]) for call in calls)
        agent.messages[-1] = AssistantMessage(text=step.text, reasoning=step.reasoning,
                                              tool_calls=tuple(calls))
        paths = ", ".join(call.arguments["path"] for call in calls)
        tools = " and ".join(dict.fromkeys(call.name for call in calls))
        yield Notice(text=f"the answer writes the change to {paths} as code blocks; applying "
                          f"it with {tools}")
        changed = False
        for call in calls:  # each runs, as `_run_calls` would run it alone
            changed = (yield from _run_calls(agent, [call], made)) or changed
        return changed, changed or not blind
    if holds_fix(step.text, ctx.workspace, ctx.cancel):
        agent.messages.append(UserMessage.of(nudge(agent.tools.names())))
        yield Notice(text="the answer holds a change no file has; asked the model to apply it")
        return False, True
    return None


def _refused_note(agent: Agent) -> str:
    """What a model that answers after only failed edits is told (small models often answer
    "fixed" then)."""
    paths = ", ".join(agent.ctx.workspace.relative(p) for p in agent.ctx.edit_failures)
    whole = " (write_file with the whole new content works where edit_file keeps failing)"
    return (f"No file has changed in this turn: your edits of {paths} were refused, so the task "
            f"is not done. Make the change{whole if 'write_file' in agent.tools.names() else ''}"
            ", or say why it cannot be made.")


def _was_read(ctx: ToolContext, path: str) -> bool:
    try:
        return ctx.workspace.resolve(path, write=True) in ctx.seen
    except ToolError:
        return False


def run_turn(agent: Agent, user: UserMessage) -> Iterator[AgentEvent]:
    """Run one user turn to its end, yielding every event on the way."""
    agent.messages.append(user)
    agent.ctx.edit_failures.clear()
    specs = agent.tools.specs()
    made: Counter[tuple[str, str]] = Counter()
    changed = nudged = False
    for step_number in range(1, agent.max_steps + 1):
        if agent.before_step is not None:
            yield from agent.before_step(agent)
        yield StepStarted(step=step_number)
        step = yield from _next_step(agent, specs, made)
        if step.finish in ("cancelled", "context_full") or not step.calls:
            if agent.prose_nudge and step.finish == "stop" and not changed and not nudged:
                applied = yield from _apply_prose_fix(agent, step, made)
                if applied is not None:
                    changed, spent = applied
                    nudged = spent  # once a turn: a model that insists has its answer taken
                    if changed:
                        _forget_looks(agent, made)
                    continue
                if agent.ctx.edit_failures:  # it meant to change files, and none changed
                    nudged = True
                    agent.messages.append(UserMessage.of(_refused_note(agent)))
                    yield Notice(text="the answer ends a turn whose edits were all refused; "
                                      "told the model no file changed")
                    continue
            reason = {"stop": "answered", "tool_calls": "answered"}.get(step.finish, step.finish)
            yield TurnDone(reason=reason, steps=step_number)
            return
        if made[_call_key(step.calls[0])] >= MAX_REPEATS:
            # A model stuck in a loop only burns time; stop it, keeping the history well-formed.
            for call in step.calls:
                yield _record(agent, call, ToolResult.error(
                    f"not run: this exact call was already made {MAX_REPEATS} times",
                    "repeated_call"))
            yield TurnDone(reason="repeated", steps=step_number)
            return
        if (yield from _run_calls(agent, step.calls, made)):
            changed = True
            _forget_looks(agent, made)
        if agent.ctx.cancel.is_set():
            yield TurnDone(reason="cancelled", steps=step_number)
            return
    yield TurnDone(reason="max_steps", steps=agent.max_steps)
