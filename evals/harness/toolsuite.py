"""The tool-choice suite: one model step per prompt, in-process, and its first call graded.

Every prompt starts a fresh conversation (gemma-code's system prompt on the suite's
repository, then the prompt) with the real tool specs. One backend serves all prompts, so the
shared system prompt is prefilled once and reused, as in a real session.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from gemma_code.agent.config import Settings
from gemma_code.agent.events import TextDelta, ToolCallParsed, Usage
from gemma_code.agent.messages import SystemMessage, ToolCall, UserMessage
from gemma_code.agent.models import offered_tools, open_backend
from gemma_code.agent.prompts import system_prompt
from gemma_code.agent.protocols import GenerationOptions
from gemma_code.tools.base import tool_spec

from .agents import Metrics
from .results import ToolCallResult
from .suites import ToolExpect, ToolTask
from .workspace import commit_all

MAX_TOKENS = 512


def normalise(key: str, value: object) -> object:
    """Values compared the way a person would: paths without `./` or a trailing slash."""
    if isinstance(value, str):
        value = value.strip()
        if key == "path" and value not in ("", "."):
            value = str(PurePosixPath(value.removeprefix("./")))
    return value


def check_call(call: ToolCall, tools: dict) -> tuple[bool, str]:
    """(well formed, what is wrong): well formed is parsed and naming one of `tools`; the
    problem is "" when the arguments also pass that tool's schema."""
    if call.parse_error:
        return False, f"unreadable call: {call.parse_error}"
    tool = tools.get(call.name)
    if tool is None:
        return False, f"unknown tool {call.name!r}"
    try:
        tool.Args.model_validate(call.arguments)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        return True, f"arguments fail the schema: {str(exc).splitlines()[0]}"
    return True, ""


def grade(call: ToolCall | None, expects: Sequence[ToolExpect], tools: dict) -> dict:
    """The grading fields of a `ToolCallResult` for the model's first call."""
    if call is None:
        return dict(called=False, well_formed=False, valid_args=False, right_tool=False,
                    passed=False, problem="no tool call")
    well_formed, problem = check_call(call, tools)
    grades = dict(called=True, well_formed=well_formed, valid_args=well_formed and not problem,
                  right_tool=False, passed=False, problem=problem)
    if not well_formed:
        return grades
    same_tool = [e for e in expects if e.tool == call.name]
    grades["right_tool"] = bool(same_tool)
    if not same_tool:
        return grades | dict(problem=f"called {call.name}, expected {' or '.join(e.tool for e in expects)}")
    if problem:
        return grades
    misses = [_mismatch(call.arguments, e) for e in same_tool]
    if any(m is None for m in misses):
        return grades | dict(passed=True, problem="")
    return grades | dict(problem=misses[0])


def _mismatch(arguments: dict, expect: ToolExpect) -> str | None:
    for key, want in expect.args.items():
        got = arguments.get(key)
        if normalise(key, got) != normalise(key, want):
            return f"{key}={got!r}, expected {want!r}"
    for key, pattern in expect.match.items():
        got = arguments.get(key)
        if got is None or not re.search(pattern, str(got)):
            return f"{key}={got!r} does not match /{pattern}/"
    return None


def run_tool_suite(tasks: Sequence[ToolTask], settings: Settings, *, agent: str = "gemma-code",
                   notice: Callable[[str], None] = lambda text: None,
                   on_result: Callable[[ToolCallResult], None] = lambda r: None) -> list[ToolCallResult]:
    """Grade the first call the model makes for each prompt, with gemma-code's own prompt and tools."""
    if not tasks:
        return []
    backend = open_backend(settings, notice=notice)
    tools = {tool.name: tool for tool in offered_tools(settings, backend)}
    specs = [tool_spec(tool) for tool in tools.values()]
    options = GenerationOptions(max_tokens=min(settings.max_tokens, MAX_TOKENS),
                                temperature=settings.temperature,
                                constrain_tool_calls=settings.constrain_tool_calls)
    scratch = Path(tempfile.mkdtemp(prefix="evals-tools-"))
    try:
        root = shutil.copytree(tasks[0].repo, scratch / "repo")
        commit_all(root, "start")
        system = SystemMessage(content=system_prompt(root, list(tools)))
        results = []
        for task in tasks:
            call, text, usage, seconds = one_step(backend, [system, UserMessage.of(task.prompt)],
                                                   specs, options)
            result = ToolCallResult(
                suite=task.suite, task=task.id, agent=agent, model=settings.model,
                expected=list(dict.fromkeys(e.tool for e in task.expect)),
                call=call.model_dump(include={"name", "arguments", "parse_error"}) if call else None,
                text=text[:500], seconds=round(seconds, 2), metrics=_metrics(usage),
                **grade(call, task.expect, tools),
            )
            on_result(result)
            results.append(result)
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        backend.close()


def one_step(backend, messages, specs, options) -> tuple[ToolCall | None, str, Usage | None, float]:
    """The first call the model makes in one step (if any), its text, usage and wall seconds."""
    started = time.perf_counter()
    call, text, usage = None, [], None
    for event in backend.stream(messages, specs, options):
        if isinstance(event, ToolCallParsed) and call is None:
            call = event.call
        elif isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, Usage):
            usage = event
    return call, "".join(text), usage, time.perf_counter() - started


def _metrics(usage: Usage | None) -> Metrics:
    if usage is None:
        return Metrics(steps=1)
    return Metrics(steps=1, tool_calls=0, end_reason=usage.finish_reason,
                   prompt_tokens=usage.prompt_tokens, cached_tokens=usage.cached_tokens,
                   completion_tokens=usage.completion_tokens,
                   prefill_seconds=usage.prefill_seconds, decode_seconds=usage.decode_seconds)
