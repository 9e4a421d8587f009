"""Headless consumers of the event stream: JSON lines for scripts, plain text for people."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from .events import (
    AgentEvent, ApprovalResolved, ContextAttached, ErrorEvent, Notice, TextDelta,
    ToolCallStarted, ToolFinished, TurnDone, Usage, VerifyFinished, VerifyStarted,
)
from .messages import ToolCall


def short_arguments(call: ToolCall, width: int = 60) -> str:
    """`path=a.py, old='x = 1'` cut to `width` characters per value."""
    parts = []
    for key, value in call.arguments.items():
        shown = value if isinstance(value, str) else json.dumps(value)
        shown = shown.replace("\n", "⏎")
        if len(shown) > width:
            shown = shown[: width - 1] + "…"
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def verify_line(event: VerifyStarted | VerifyFinished) -> str:
    """`tests: running python -m pytest -q (from pyproject.toml)`, then how it went."""
    if isinstance(event, VerifyStarted):
        return f"tests: running {event.command} (from {event.source})"
    failing = f": {', '.join(event.failures)}" if event.failures else ""
    return f"tests: {event.summary}{failing}"


def print_json(events: Iterable[AgentEvent], out: TextIO) -> TurnDone | None:
    """One JSON object per line; returns the final TurnDone (None if the stream broke)."""
    done = None
    for event in events:
        out.write(event.model_dump_json() + "\n")
        out.flush()
        if isinstance(event, TurnDone):
            done = event
    return done


class _Totals:
    def __init__(self) -> None:
        self.prompt = self.cached = self.completion = 0
        self.decode_seconds = 0.0

    def add(self, usage: Usage) -> None:
        self.prompt += usage.prompt_tokens
        self.cached += usage.cached_tokens
        self.completion += usage.completion_tokens
        self.decode_seconds += usage.decode_seconds

    def line(self, steps: int) -> str:
        rate = self.completion / self.decode_seconds if self.decode_seconds > 0 else 0.0
        reuse = 100 * self.cached / self.prompt if self.prompt else 0.0
        return (
            f"[{steps} step{'s' if steps != 1 else ''} · {self.prompt} prompt tokens "
            f"({reuse:.0f}% from cache) · {self.completion} generated at {rate:.1f} tok/s]"
        )


def print_human(events: Iterable[AgentEvent], out: TextIO, err: TextIO) -> TurnDone | None:
    """The assistant's text as it streams, one line per tool call, a summary on stderr."""
    totals, done, at_line_start = _Totals(), None, True
    for event in events:
        if isinstance(event, TextDelta):
            out.write(event.text)
            at_line_start = event.text.endswith("\n")
        elif isinstance(event, ToolCallStarted):
            prefix = "" if at_line_start else "\n"
            out.write(f"{prefix}→ {event.call.name}({short_arguments(event.call)})\n")
            at_line_start = True
        elif isinstance(event, ApprovalResolved) and not event.approved:
            out.write("  ✗ denied\n")
        elif isinstance(event, ToolFinished):
            mark = "✗" if event.is_error else "✓"
            summary = event.summary or (event.text.splitlines() or [""])[0]
            out.write(f"  {mark} {summary}\n")
        elif isinstance(event, Usage):
            totals.add(event)
        elif isinstance(event, (ErrorEvent, Notice, ContextAttached, VerifyStarted, VerifyFinished)):
            if not at_line_start:  # both streams often share one terminal
                out.write("\n")
                out.flush()
                at_line_start = True
            if isinstance(event, ErrorEvent):
                err.write(f"error: {event.message}\n")
            elif isinstance(event, ContextAttached):
                err.write(f"gemma-code: {event.line()}\n")
            elif isinstance(event, (VerifyStarted, VerifyFinished)):
                err.write(f"gemma-code: {verify_line(event)}\n")
            else:
                err.write(f"gemma-code: {event.text}\n")
        elif isinstance(event, TurnDone):
            done = event
        out.flush()
    if not at_line_start:
        out.write("\n")
    if done is not None:
        if done.reason == "max_steps":
            out.write(f"(stopped after {done.steps} steps: the step limit)\n")
        elif done.reason == "repeated":
            out.write(f"(stopped after {done.steps} steps: the model kept repeating the same call)\n")
        err.write(totals.line(done.steps) + "\n")
    return done
