"""The agents a task can be given to: gemma-code itself, and peers through an OpenAI-compatible server.

An agent is a command line: the harness starts it in the task's repository with the prompt,
waits (with the task's time limit), and reads what it can measure from its output.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

# How reports name the kinds of gemma-code's tool errors (`error_kind` of its tool_result
# events); "malformed" calls are counted apart, and any other kind is "other".
_ERROR_KIND_LABELS = {
    "repeated_call": "repeated call refused",
    "edit_old_equals_new": "edit: old equals new",
    "edit_old_not_found": "edit: old not found",
    "edit_already_made": "edit: already made",
    "unread_file": "edit: file not read (shown)",
    "syntax": "edit: would break the syntax",
    "elided": "write: code left out behind a placeholder",
    "extra_call": "extra call in a step, not run",
    "path_not_found": "path not found",
    "outside_workspace": "path outside the workspace",
    "timed_out": "command timed out",
}


class Metrics(BaseModel):
    """What one agent run did. Token figures are totals over the run's model requests."""

    steps: int = 0  # model requests
    tool_calls: int = 0
    malformed_calls: int = 0  # unreadable, unknown tool, or arguments that fail the schema
    tool_errors: int = 0  # well-formed calls whose tool reported an error
    repeated_calls: int = 0  # calls (or peer commands) identical to an earlier one of the same run
    end_reason: str = ""  # how the agent stopped (gemma-code: answered, max_steps, repeated, ...)
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    error_kinds: dict[str, int] = {}  # tool errors by kind (gemma-code only)
    edits: int = 0  # well-formed edit_file calls (gemma-code only)
    edits_unread: int = 0  # ... that ran on a file not read, attached or shown before it

    @classmethod
    def total(cls, parts: Iterable[Metrics]) -> Metrics:
        """The sum of `parts`; the end reason is the last one's."""
        data = cls().model_dump()
        for part in parts:
            for key, value in part.model_dump().items():
                if key == "end_reason":
                    data[key] = value
                elif isinstance(value, dict):
                    data[key] = dict(Counter(data[key]) + Counter(value))
                else:
                    data[key] += value
        return cls(**data)


class Agent(Protocol):
    name: str
    sees_images: bool  # can be given the task's image

    def command(self, prompt: str, work: Path, image: Path | None) -> list[str]: ...

    def environment(self, scratch: Path) -> dict[str, str]: ...

    def metrics(self, stdout: Path, stderr: Path) -> Metrics: ...

    def after_try(self, work: Path, logs_base: Path) -> Metrics | None:
        """Collect what the agent recorded outside its output (None: nothing)."""

    def after_timeout(self) -> None:
        """Called after a try ran out of time: leave nothing behind that would slow the next."""


@dataclass
class GemmaCode:
    """`gemma-code run --json` with every tool approved, in the task's repository."""

    model: str
    backend: str = "auto"
    base_url: str | None = None  # an OpenAI-compatible server, for backend "openai"
    max_steps: int = 30
    temperature: float | None = None
    max_tokens: int | None = None
    threads: int | None = None  # llama.cpp threads (None: gemma-code's default)
    extra: list[str] = field(default_factory=list)
    name: str = "gemma-code"
    sees_images: bool = True

    def command(self, prompt: str, work: Path, image: Path | None) -> list[str]:
        command = [sys.executable, "-m", "gemma_code.agent.cli", "run", "--json",
                   "--model", self.model, "--backend", self.backend, "--approval", "auto",
                   "--max-steps", str(self.max_steps), "-C", str(work), *self.extra]
        if self.base_url is not None:
            command += ["--base-url", self.base_url]
        if self.temperature is not None:
            command += ["--temperature", str(self.temperature)]
        if self.max_tokens is not None:
            command += ["--max-tokens", str(self.max_tokens)]
        if image is not None:
            command += ["--image", str(image)]
        return [*command, "--", prompt]

    def environment(self, scratch: Path) -> dict[str, str]:
        # Sessions and attached images go to the scratch folder, not the person's own lists.
        env = {k: v for k, v in os.environ.items() if k not in ("GEMMA_CODE_MODEL", "GEMMA_CODE_BACKEND")}
        env["GEMMA_CODE_SESSIONS_DIR"] = str(scratch / "sessions")
        env["GEMMA_CODE_IMAGES_DIR"] = str(scratch / "images")
        if self.threads is not None:
            env["GEMMA_CODE_N_THREADS"] = str(self.threads)
        return env

    def metrics(self, stdout: Path, stderr: Path) -> Metrics:
        return metrics_from_events(stdout)

    def after_try(self, work: Path, logs_base: Path) -> Metrics | None:
        return None

    def after_timeout(self) -> None:
        pass  # its model lives in the process that was stopped


_NOT_RUN = ("repeated_call", "extra_call")  # calls answered without running the tool


def error_label(kind: str | None) -> str:
    """How reports name a kind of gemma-code tool error."""
    return _ERROR_KIND_LABELS.get(kind or "other", "other")


def metrics_from_events(path: Path) -> Metrics:
    """Sum up a `gemma-code run --json` event stream (lines that are not JSON are skipped)."""
    m = Metrics()
    kinds: Counter[str] = Counter()
    calls: dict[str, dict] = {}
    seen: set[tuple] = set()  # (tool, arguments) of the calls so far
    read: set[str] = set()  # files read_file returned, attached or shown in this run
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "usage":
            m.steps += 1
            # a figure the backend did not report (None) adds nothing
            m.prompt_tokens += event["prompt_tokens"] or 0
            m.cached_tokens += event["cached_tokens"] or 0
            m.completion_tokens += event["completion_tokens"] or 0
            m.prefill_seconds += event["prefill_seconds"]
            m.decode_seconds += event["decode_seconds"]
        elif kind == "tool_call":
            call = event["call"]
            calls[call["id"]] = call
            key = (call.get("name"), json.dumps(call.get("arguments"), sort_keys=True))
            m.repeated_calls += key in seen
            seen.add(key)
        elif kind == "tool_result":
            m.tool_calls += 1
            malformed = event.get("is_error") and event.get("error_kind") == "malformed"
            if malformed:
                m.malformed_calls += 1
            elif event.get("is_error"):
                m.tool_errors += 1
                kinds[error_label(event.get("error_kind"))] += 1
            arguments = calls.get(event.get("call_id"), {}).get("arguments") or {}
            target = os.path.normpath(str(arguments.get("path", "")))
            if event.get("name") == "read_file" and not event.get("is_error"):
                read.add(target)
            elif event.get("name") == "edit_file" and not malformed:
                m.edits += 1
                if event.get("error_kind") == "unread_file":
                    read.add(target)  # refused unrun, with the file's text: read now
                elif event.get("error_kind") not in _NOT_RUN:
                    m.edits_unread += target not in read
        elif kind == "context":  # files attached before step 1 count as read, as for the guard
            read.update(os.path.normpath(f["path"]) for f in event.get("files", []))
        elif kind == "done":
            m.end_reason = event["reason"]
        elif kind in ("error", "run_finished") and not m.end_reason:
            m.end_reason = "error"  # run_finished after no `done`: the run broke off
    m.error_kinds = dict(kinds)
    return m
