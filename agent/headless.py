"""Headless consumers of the event stream: JSON lines for scripts, plain text for people.

`agent/headless_run.py` runs the prompt and frames the stream with `RunStarted` and
`RunFinished`; the printers here turn it into output.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import TextIO

from .events import (
    AgentEvent, ApprovalNeeded, ApprovalResolved, BlockedAction, ContextAttached, ErrorEvent,
    Notice, RunFinished, RunStarted, TextDelta, ToolCallStarted, ToolFinished, TurnDone,
    VerifyFinished, VerifyStarted,
)
from .messages import ToolCall

TAIL_LINES = 6  # lines of a failed command's output shown under it


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


def failed(event: ToolFinished) -> bool:
    """An error, or a command that exited with a non-zero status."""
    return event.is_error or event.exit_code not in (None, 0)


_OUTPUT_END = re.compile(r"^\[(exit code -?\d+ after|killed after|cancelled by the user)")


def output_tail(event: ToolFinished, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a command's output (where a failure's summary is), without the
    `[exit code ...]` line and the notes after it; [] for other tools."""
    if event.exit_code is None:
        return []
    text = event.text.splitlines()
    end = max((i for i, line in enumerate(text) if _OUTPUT_END.match(line)), default=len(text))
    shown = [line.rstrip() for line in text[:end] if line.strip()]
    return [] if shown == ["(no output)"] else shown[-lines:]


def blocked_line(action: BlockedAction) -> str:
    """`edit_file calc.py: --approval auto-edit allows it`, for people."""
    what = f"{action.tool} {action.target}".strip()
    if action.allowed_by is None:
        return f"{what}: {action.reason}; do it yourself if it should happen"
    return f"{what}: `{action.allowed_by}` allows it"


def print_json(events: Iterable[AgentEvent], out: TextIO) -> TurnDone | None:
    """One JSON object per line; returns the final TurnDone (None if the stream broke)."""
    done = None
    for event in events:
        out.write(event.model_dump_json() + "\n")
        out.flush()
        if isinstance(event, TurnDone):
            done = event
    return done


def _coloured(mark: str, out: TextIO) -> str:
    """`mark` in red on a terminal (unless NO_COLOR is set)."""
    if os.environ.get("NO_COLOR") or not out.isatty():
        return mark
    return f"\x1b[31m{mark}\x1b[0m"


class _HumanPrinter:
    """The assistant's text as it streams, a line per tool call, notices and totals on stderr."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.at_line_start = True
        self.asked: dict[str, ApprovalNeeded] = {}
        self.blocked: set[str] = set()  # call ids the approval mode did not let run
        self.done: TurnDone | None = None
        self.approval = "ask"  # the mode, as the run's first event says

    def take(self, event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            self.out.write(event.text)
            self.at_line_start = event.text.endswith("\n")
        elif isinstance(event, ToolCallStarted):
            self._line(f"→ {event.call.name}({short_arguments(event.call)})")
        elif isinstance(event, ApprovalNeeded):
            self.asked[event.call.id] = event
        elif isinstance(event, ApprovalResolved) and not event.approved:
            self._blocked(event.call_id)
        elif isinstance(event, ToolFinished) and event.call_id not in self.blocked:
            self._finished(event)
        elif isinstance(event, (ErrorEvent, Notice, ContextAttached, VerifyStarted, VerifyFinished)):
            self._to_stderr(event)
        elif isinstance(event, TurnDone):
            self.done = event
        elif isinstance(event, RunStarted):
            self.approval = event.approval
        elif isinstance(event, RunFinished):
            self._summary(event)
        self.out.flush()

    def _line(self, text: str) -> None:
        self.end_line()
        self.out.write(text + "\n")

    def end_line(self) -> None:
        if not self.at_line_start:
            self.out.write("\n")
            self.at_line_start = True

    def _blocked(self, call_id: str) -> None:
        self.blocked.add(call_id)
        asked = self.asked.get(call_id)
        why = f"{asked.reason}, and " if asked else ""  # the rule's reason, not the model's note
        self._line(f"  {_coloured('✗', self.out)} denied: {why}no one can approve it in a "
                   "headless run")

    def _finished(self, event: ToolFinished) -> None:
        """`✓ summary`, or a red `✗ summary` and, for a command, the end of its output."""
        summary = event.summary or (event.text.splitlines() or [""])[0]
        if not failed(event):
            self._line(f"  ✓ {summary}")
            return
        self._line(f"  {_coloured('✗', self.out)} {summary}")
        for line in output_tail(event):
            self._line(f"    {line}")

    def _to_stderr(self, event: AgentEvent) -> None:
        """Errors, notices, the context attached and the test runs, each on a line of stderr."""
        self.end_line()  # both streams often share one terminal
        self.out.flush()
        if isinstance(event, ErrorEvent):
            self.err.write(f"error: {event.message}\n")
        elif isinstance(event, ContextAttached):
            self.err.write(f"gemma-code: {event.line()}\n")
        elif isinstance(event, (VerifyStarted, VerifyFinished)):
            self.err.write(f"gemma-code: {verify_line(event)}\n")
        else:
            self.err.write(f"gemma-code: {event.text}\n")

    def _summary(self, finished: RunFinished) -> None:
        self.end_line()
        if finished.reason == "max_steps":
            self.out.write(f"(stopped after {finished.steps} steps: the step limit)\n")
        elif finished.reason == "repeated":
            self.out.write(f"(stopped after {finished.steps} steps: the model kept repeating "
                           "the same call)\n")
        self.out.flush()
        if finished.blocked:
            count = len(finished.blocked)
            self.err.write(f"gemma-code: not run under --approval {self.approval}: {count} "
                           f"call{'s' if count > 1 else ''} needing approval, which no one can "
                           "give in a headless run:\n")
            for action in finished.blocked:
                self.err.write(f"  {blocked_line(action)}\n")
        self.err.write(totals_line(finished) + "\n")


def totals_line(finished: RunFinished) -> str:
    """`[4 steps · 1200 prompt tokens (50% from cache) · 80 generated at 30.0 tok/s]`"""
    seconds, steps = finished.decode_seconds, finished.steps
    prompt, cached, generated = finished.prompt_tokens, finished.cached_tokens, finished.completion_tokens
    rate = f"{generated / seconds:.1f}" if generated is not None and seconds > 0 else "n/a"
    reuse = "n/a" if cached is None or prompt is None else f"{100 * cached / prompt:.0f}%" if prompt else "0%"
    return (f"[{steps} step{'s' if steps != 1 else ''} · {_figure(prompt)} prompt tokens "
            f"({reuse} from cache) · {_figure(generated)} generated at {rate} tok/s]")


def _figure(value: int | None) -> str:
    """A token count, or `n/a` where the backend did not report it."""
    return "n/a" if value is None else str(value)


def print_human(events: Iterable[AgentEvent], out: TextIO, err: TextIO) -> TurnDone | None:
    """The assistant's text as it streams, one line per tool call (a failed command with the
    end of its output), notices on stderr, and the run's summary; returns the final TurnDone."""
    printer = _HumanPrinter(out, err)
    for event in events:
        printer.take(event)
    printer.end_line()
    return printer.done
