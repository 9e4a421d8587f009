"""Keeping a long conversation inside the model's context: old tool output masked, then a
hand-off summary.

Before each model step the loop asks `Compactor.before_step`. Below the threshold
(`compact_at` of the room the system prompt and tool descriptions leave, counted with the
backend's tokenizer and corrected by its count of the last prompt) nothing changes, so the
prompt stays a prefix of the last one and the backend's cache holds. At the threshold the
history is rewritten once: the oldest tool outputs become one-line stubs (the newest few stay
whole) until the conversation is well below it (MASK_DOWN_TO); when masking cannot get it
there, the model writes a hand-off summary and the history restarts from the system prompt, the summary and the latest
user message. A tool output bigger than a quarter of the context is cut the first time the
model would see it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from .events import AgentEvent, Compacted, Notice, TextDelta, Usage
from .messages import (
    AssistantMessage, ImagePart, Message, SystemMessage, TextPart, ToolCall, ToolMessage,
    UserMessage,
)
from .protocols import Backend, ToolSpec

KEEP_WHOLE = 3  # the newest tool outputs never masked
PER_MESSAGE = 8  # tokens a chat template adds around a message
IMAGE_TOKENS = 280  # counted for an image part (the default image cap)
MASK_DOWN_TO = 2 / 3  # masking must bring the conversation to this share of the threshold
OUTPUT_SHARE = 4  # a tool output may take at most 1/OUTPUT_SHARE of the context
SUMMARY_TOKENS = 768  # the most the model may write for its summary
MIN_SUMMARY_ROOM = 128  # tokens left for it below which the model writes none
CHANGING_TOOLS = ("write_file", "edit_file")
BLOCK_HEAD = "[Earlier conversation compacted to fit the context. Your hand-off summary of it:]\n"
EARLIER_CHARS = 1200  # of an earlier summary kept in the next one
_STUB = re.compile(r"^\[[^\n]*elided\]$")

SUMMARY_REQUEST = (
    "The conversation is about to be cut short to fit your context. Write a hand-off summary "
    "for yourself to go on from, in plain text, no tool calls, under 300 words, with these "
    "headings: Goal (the user's request), Files changed (and how), Decisions, What is left, "
    "Last errors."
)


def message_text(message: Message) -> str:
    """What of a message the model reads, as text (tool calls as their JSON)."""
    if isinstance(message, SystemMessage):
        return message.content
    if isinstance(message, AssistantMessage):
        calls = [json.dumps({"name": c.name, "arguments": c.arguments}) for c in message.tool_calls]
        return "\n".join([message.reasoning, message.text, *calls])
    return message.text


class TokenMeter:
    """Counts a conversation's tokens with the backend's tokenizer, each message once; what
    the template adds or leaves out (tool descriptions, turn markers) is learnt from the
    backend's own count of the last prompt."""

    def __init__(self, count: Callable[[str], int]) -> None:
        self.count = count
        self.offset = 0  # the backend's count of the last prompt minus ours
        self._counted: dict[int, tuple[Message, int]] = {}
        self._tools: tuple[str, int] = ("", 0)

    def message(self, message: Message) -> int:
        known = self._counted.get(id(message))
        if known is not None and known[0] is message:
            return known[1]
        images = sum(isinstance(p, ImagePart) for p in getattr(message, "content", ()) or ())
        tokens = self.count(message_text(message)) + PER_MESSAGE + images * IMAGE_TOKENS
        self._counted[id(message)] = (message, tokens)
        return tokens

    def tools(self, specs: Sequence[ToolSpec]) -> int:
        key = json.dumps([(s.name, s.description, s.parameters) for s in specs], sort_keys=True)
        if key != self._tools[0]:
            self._tools = (key, self.count(key) if specs else 0)
        return self._tools[1]

    def raw(self, messages: Sequence[Message], specs: Sequence[ToolSpec]) -> int:
        return sum(self.message(m) for m in messages) + self.tools(specs)

    def total(self, messages: Sequence[Message], specs: Sequence[ToolSpec]) -> int:
        """The prompt these messages make, in the backend's tokens (an estimate)."""
        return max(self.raw(messages, specs) + self.offset, 0)

    def observe(self, usage: Usage, messages: Sequence[Message], specs: Sequence[ToolSpec]) -> None:
        """Learn the template's share from a step's real prompt count."""
        if usage.prompt_tokens:  # None: the server did not report it
            self.offset = usage.prompt_tokens - self.raw(messages, specs)

    def forget_unused(self, messages: Sequence[Message]) -> None:
        alive = {id(m) for m in messages}
        self._counted = {k: v for k, v in self._counted.items() if k in alive}


def _calls_by_id(messages: Sequence[Message]) -> dict[str, ToolCall]:
    return {c.id: c for m in messages if isinstance(m, AssistantMessage) for c in m.tool_calls}


def _target(call: ToolCall | None) -> str:
    if call is None:
        return ""
    for key in ("path", "command", "pattern", "url"):
        value = call.arguments.get(key)
        if isinstance(value, str) and value:
            value = " ".join(value.split())
            return " " + (value[:57] + "..." if len(value) > 60 else value)
    return ""


def stub(message: ToolMessage, call: ToolCall | None) -> str:
    """`[read_file calc.py: 120 lines, elided]`"""
    lines = message.text.count("\n") + 1
    what = "error, " if message.is_error else ""
    return f"[{message.name}{_target(call)}: {what}{lines} line{'s' if lines != 1 else ''}, elided]"


def is_masked(message: Message) -> bool:
    return isinstance(message, ToolMessage) and bool(_STUB.match(message.text))


def masked(message: ToolMessage, call: ToolCall | None) -> ToolMessage:
    return message.model_copy(update={"content": (TextPart(text=stub(message, call)),)})


def cut_output(message: ToolMessage, max_tokens: int, count: Callable[[str], int]) -> ToolMessage:
    """The output's head and tail within `max_tokens`, saying what was cut."""
    text = message.text
    tokens = count(text)
    if tokens <= max_tokens:
        return message
    keep = max(len(text) * max_tokens // tokens - 200, 200)
    head, tail = text[: keep * 2 // 3], text[-(keep // 3):]
    cut = len(text) - len(head) - len(tail)
    note = (f"\n[... {cut} characters cut: the output is larger than a quarter of the model's "
            "context; ask for a smaller part (a line range, a narrower pattern) ...]\n")
    others = tuple(p for p in message.content if not isinstance(p, TextPart))  # images stay
    return message.model_copy(update={"content": (*others, TextPart(text=head + note + tail))})


class Compactor:
    """Decides, before each step, whether the history must shrink, and shrinks it."""

    def __init__(self, backend: Backend, count: Callable[[str], int], compact_at: float,
                 summary_tokens: int = SUMMARY_TOKENS) -> None:
        self.backend, self.compact_at, self.summary_tokens = backend, compact_at, summary_tokens
        self.meter = TokenMeter(count)
        self._checked = 0  # messages whose size was checked on first sight
        self._summarizing = False

    def limits(self, messages: Sequence[Message], specs: Sequence[ToolSpec]) -> tuple[int, int]:
        """(threshold, goal): `compact_at` of the room the system prompt and the tool
        descriptions leave (on a large context, about `compact_at` of it), and the size
        masking must reach, MASK_DOWN_TO of that room."""
        fixed = self.meter.total([m for m in messages[:1] if isinstance(m, SystemMessage)], specs)
        room = max(self.backend.context_size - fixed, 0) * self.compact_at
        return fixed + int(room), fixed + int(room * MASK_DOWN_TO)

    def observe(self, usage: Usage, messages: Sequence[Message], specs: Sequence[ToolSpec]) -> None:
        """A model step's usage, with the messages its prompt was made of."""
        if not self._summarizing:  # the summary's prompt is not the history's
            self.meter.observe(usage, messages, specs)

    def before_step(self, agent) -> Iterator[AgentEvent]:
        """The loop's hook: cap new outputs; at the threshold mask, then compact if need be."""
        self._cap_new_outputs(agent.messages)
        if self.compact_at >= 1.0:
            return
        specs = agent.tools.specs()
        before = self.meter.total(agent.messages, specs)
        threshold, goal = self.limits(agent.messages, specs)
        if before <= threshold:
            return
        original = list(agent.messages)
        count = self._mask(agent.messages, goal, specs)
        after = self.meter.total(agent.messages, specs)
        if after <= goal:
            yield Compacted(kind="masked", outputs_masked=count, tokens_before=before,
                            tokens_after=after, context_size=self.backend.context_size)
            self.meter.forget_unused(agent.messages)
            return
        masked_history, agent.messages[:] = list(agent.messages), original
        yield from self.compact(agent, before=before, smaller=masked_history)

    def _cap_new_outputs(self, messages: list[Message]) -> None:
        if self._checked > len(messages):
            self._checked = 0
        limit = max(self.backend.context_size // OUTPUT_SHARE, 64)
        for i in range(self._checked, len(messages)):
            if isinstance(messages[i], ToolMessage):
                messages[i] = cut_output(messages[i], limit, self.meter.count)
        self._checked = len(messages)

    def _kept_whole(self, messages: list[Message], outputs: list[int], goal: int) -> int:
        """How many of the newest outputs stay whole: KEEP_WHOLE, within half the goal (a
        small context keeps fewer)."""
        kept, tokens = 0, 0
        for i in reversed(outputs[-KEEP_WHOLE:]):
            tokens += self.meter.message(messages[i])
            if kept and tokens > goal // 2:
                break
            kept += 1
        return kept

    def _mask(self, messages: list[Message], goal: int, specs: Sequence[ToolSpec]) -> int:
        """Stub the oldest outputs (not the newest few) until the history is within `goal`."""
        outputs = [i for i, m in enumerate(messages) if isinstance(m, ToolMessage)]
        calls = _calls_by_id(messages)
        total, count = self.meter.total(messages, specs), 0
        for i in outputs[: len(outputs) - self._kept_whole(messages, outputs, goal)]:
            if total <= goal:
                break
            old = messages[i]
            if is_masked(old):
                continue
            new = masked(old, calls.get(old.call_id))
            saved = self.meter.message(old) - self.meter.message(new)
            if saved <= 0:
                continue
            messages[i] = new
            total -= saved
            count += 1
        return count

    def compact(self, agent, before: int | None = None, focus: str = "",
                smaller: list[Message] | None = None) -> Iterator[AgentEvent]:
        """The model's hand-off summary replaces the history: system prompt, summary, latest
        user message. The model reads the history as its cache holds it, or `smaller` (the
        history masked) when that leaves no room to write. Yields the summary step's Usage
        and a `Compacted` event."""
        specs = agent.tools.specs()
        before = self.meter.total(agent.messages, specs) if before is None else before
        count = len(agent.messages)
        summary = yield from self._summary(agent, focus, smaller)
        if summary is None:
            yield Notice(text="compacting was interrupted; the conversation is as it was")
            return
        agent.messages[:] = restarted(agent.messages, summary)
        self._checked = len(agent.messages)
        self.meter.forget_unused(agent.messages)
        yield Compacted(kind="compacted", messages_before=count, tokens_before=before,
                        tokens_after=self.meter.total(agent.messages, specs),
                        context_size=self.backend.context_size, focus=focus)

    def _summary(self, agent, focus: str, smaller: list[Message] | None) -> Iterator[AgentEvent]:
        """The model's summary of the conversation so far ("" if it wrote none; None if
        interrupted)."""
        request = UserMessage.of(SUMMARY_REQUEST + (f" Focus on: {focus}" if focus else ""))
        specs = agent.tools.specs()  # as every step has them: the prompt cache holds
        room = 0
        for history in (agent.messages, smaller or agent.messages):
            messages = [*history, request]
            room = self.backend.context_size - self.meter.total(messages, specs) - 16
            if room >= MIN_SUMMARY_ROOM:
                break
        if room < MIN_SUMMARY_ROOM:  # no room to write it even masked: the facts alone
            return ""
        options = replace(agent.options, max_tokens=min(self.summary_tokens, room), tool_choice="none",
                          constrain_tool_calls=False)
        text, self._summarizing = [], True
        try:
            for event in self.backend.stream(messages, specs, options):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, Usage):
                    yield event
                    if event.finish_reason == "cancelled":
                        return None
        finally:
            self._summarizing = False
        return "".join(text).strip()


def facts(messages: Sequence[Message]) -> str:
    """What the history says for sure: the files changed and the last errors."""
    calls = _calls_by_id(messages)
    changed, errors = [], []
    for m in messages:
        if not isinstance(m, ToolMessage):
            continue
        call = calls.get(m.call_id)
        if m.is_error and not is_masked(m):
            errors.append(f"{m.name}{_target(call)}: {(m.text.strip().splitlines() or [''])[0][:200]}")
        elif m.name in CHANGING_TOOLS and call is not None and isinstance(call.arguments.get("path"), str):
            changed.append(call.arguments["path"])
    lines = [f"Files changed so far: {', '.join(dict.fromkeys(changed)) or 'none'}."]
    if errors:
        lines.append("Last errors: " + " | ".join(errors[-2:]))
    return "\n".join(lines)


def restarted(messages: Sequence[Message], summary: str) -> list[Message]:
    """The history after compaction: the system prompt, then one user message holding the
    summary and the latest user message (an earlier summary it carried is kept, shortened,
    so summaries never nest)."""
    system = [m for m in messages[:1] if isinstance(m, SystemMessage)]
    latest = next((m for m in reversed(messages) if isinstance(m, UserMessage)), None)
    parts = list(latest.content) if latest else []
    earlier = [p.text for p in parts if isinstance(p, TextPart) and p.text.startswith(BLOCK_HEAD)]
    parts = [p for p in parts if not (isinstance(p, TextPart) and p.text.startswith(BLOCK_HEAD))]
    before = ("\n[An earlier summary, shortened:] " + earlier[-1][len(BLOCK_HEAD):][:EARLIER_CHARS]
              if earlier else "")
    block = (BLOCK_HEAD + (summary or "(no summary was written)") + "\n" + facts(messages)
             + before + "\n[The latest request follows; go on with it from where the summary "
             "leaves off.]")
    return [*system, UserMessage(content=(TextPart(text=block), *parts))]
