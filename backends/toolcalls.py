"""Streaming tool-call parsing for each model family's output.

`ToolCallParser` turns the text a model streams into `TextDelta`, `ReasoningDelta` and
`ToolCallParsed` events. Text is released as soon as it cannot be the start of markup;
anything that might still become a marker (`<|tool_call>`, `<tool_call>`, `<|channel>`,
a code fence) is held back until it is decided, so no half-printed markup ever reaches
the user.

Formats:
- `gemma4`: `<|tool_call>call:NAME{key:<|"|>text<|"|>,n:1}<tool_call|>`, thinking in
  `<|channel>thought\\n...<channel|>`.
- `hermes` (Qwen): `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`,
  thinking in `<think>...</think>`.
- `plain`: no markup of its own.
All formats also read a fenced JSON block holding a call, and (when `tool_names` is given)
a response that is nothing but a call's JSON object.

A backend feeds each token's text, polls `in_tool_call` (and `json_opening`) after each feed
to switch on a grammar for the rest of a call (see `grammar.tool_call_grammar(
include_open_marker=False)` and `grammar.json_call_rest_grammar`), and calls `finish()` when
generation stops.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gemma_code.agent.events import BackendEvent, ReasoningDelta, TextDelta, ToolCallParsed
from gemma_code.agent.messages import ToolCall

from .toolcall_syntax import (
    QUOTE, parse_json_calls, parse_native_calls, parse_unmarked_calls, parse_xml_calls,
)

ToolFormat = Literal["gemma4", "hermes", "plain"]


@dataclass(frozen=True)
class _Markup:
    call_open: str | None = None
    call_close: str | None = None
    think_open: str | None = None
    think_close: str | None = None
    think_header: str = ""  # dropped from the start of the reasoning
    stray: tuple[str, ...] = ()  # markers dropped from text when they appear alone


_MARKUP: dict[str, _Markup] = {
    "gemma4": _Markup(
        "<|tool_call>", "<tool_call|>", "<|channel>", "<channel|>", "thought\n",
        ("<tool_call|>", "<channel|>", "<|tool_response>", "<tool_response|>"),
    ),
    "hermes": _Markup("<tool_call>", "</tool_call>", "<think>", "</think>", "",
                      ("</tool_call>", "</think>")),
    "plain": _Markup(),
}

# A fence line: up to the newline, so its info string is known. A fence is indented by at
# most `_INDENT` blanks (nested lists indent a few levels): a longer line of blanks is text at
# once, not held back as a fence that may be coming (a model running on in spaces would
# otherwise have a growing line rescanned at every token).
_INDENT = 16
_FENCE_OPEN = re.compile(rf"^[ \t]{{0,{_INDENT}}}```[ \t]*([\w+#.\-]*)[^\n`]*\n", re.M)
_FENCE_CLOSE = re.compile(rf"^[ \t]{{0,{_INDENT}}}```[ \t]*(?:\n|\Z)", re.M)
_MAYBE_OPEN = re.compile(rf"[ \t]{{0,{_INDENT}}}(?:`{{0,2}}|```[^\n`]{{0,200}})")
_MAYBE_CLOSE = re.compile(rf"[ \t]{{0,{_INDENT}}}(?:`{{0,2}}|```[ \t]{{0,200}})")
_CALL_FENCES = {"", "json", "json5", "jsonc", "tool_call", "tool", "tool_code"}
_BARE_KEYS = ("name", "tool", "tool_name", "function", "type")

Mode = Literal["text", "code", "think", "call", "fence", "bare"]
_XML_HEADS = ("<tools>", "<function ")  # a whole response in Qwen's XML imitation


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest end of `text` that is a proper start of `marker`."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0


def _first(text: str, markers: list[str], start: int = 0) -> tuple[int, str] | None:
    found = [(i, m) for m in markers if (i := text.find(m, start)) >= 0]
    return min(found, key=lambda f: f[0]) if found else None


def _bare_verdict(text: str) -> bool | None:
    """For a response starting with `{`: False once it cannot be a call object, else None."""
    inner = text.lstrip()[1:].lstrip()
    if not inner:
        return None
    if inner[0] != '"':
        return False
    key, quote, _ = inner[1:].partition('"')
    if quote:
        return None if key in _BARE_KEYS else False
    return None if any(k.startswith(key) for k in _BARE_KEYS) else False


class ToolCallParser:
    """Incremental parser of one model response: `feed` text as it comes, then `finish`."""

    def __init__(
        self,
        fmt: ToolFormat,
        tool_names: set[str] | frozenset[str] | None = None,
        *,
        starts_in_reasoning: bool = False,
    ) -> None:
        """`starts_in_reasoning`: the prompt already opened the thinking block."""
        if fmt not in _MARKUP:
            raise ValueError(f"unknown tool-call format {fmt!r}")
        self.fmt = fmt
        self.tool_names = frozenset(tool_names) if tool_names is not None else None
        self._markup = _MARKUP[fmt]
        self._starts_in_reasoning = starts_in_reasoning
        self._reset()

    def _reset(self) -> None:
        self._buf = ""
        self._mode: Mode = "think" if self._starts_in_reasoning else "text"
        self._header_pending = True
        self._trim_lead = True
        self._scanned = 0  # how much of the buffer a call or fence end was looked for in
        self._line_start = True
        self._spoke = False  # some non-blank text was released
        self._bare_allowed = self.tool_names is not None
        self._call_marker: str | None = None
        self._fence_line = ""
        self._out: list[BackendEvent] = []

    @property
    def in_tool_call(self) -> bool:
        """True from the moment a call's open marker is read until the call is complete."""
        return self._mode == "call"

    @property
    def open_marker(self) -> str | None:
        """The marker that opened the call being read (`<|tool_call>`, `<tool_call>`)."""
        return self._call_marker if self._mode == "call" else None

    @property
    def json_opening(self) -> tuple[str, bool] | None:
        """(what has arrived, whether a fence holds it) while the response may be writing a
        JSON call without markup: in a ```` ```json ```` fence, or as a bare answer."""
        if self._mode == "fence":
            return self._buf, True
        if self._mode == "bare" and not self._buf.lstrip().startswith(_XML_HEADS):
            return self._buf, False
        return None

    @property
    def call_text(self) -> str:
        """What has arrived after the open marker of the call being read."""
        return self._buf if self._mode == "call" else ""

    def feed(self, text: str) -> list[BackendEvent]:
        """Events that `text` (the next piece of the response) makes certain."""
        self._buf += text
        return self._run(final=False)

    def finish(self) -> list[BackendEvent]:
        """Flush at the end of the response; the parser is then ready for a new one."""
        events = self._run(final=True)
        self._reset()
        return events

    def _run(self, final: bool) -> list[BackendEvent]:
        steps = {
            "text": self._step_text, "code": self._step_text, "think": self._step_think,
            "call": self._step_call, "fence": self._step_fence, "bare": self._step_bare,
        }
        while True:
            mode = self._mode
            if not steps[mode](final):
                break
            if self._mode != mode:
                self._scanned = 0
        events = self._out
        self._out = []
        return events

    # Output

    def _text(self, text: str) -> None:
        if self._trim_lead:  # blanks at the start, after thinking and after calls say nothing
            text = text.lstrip()
            self._trim_lead = not text
        if not text:
            return
        self._line_start = text.endswith("\n")
        self._spoke = self._spoke or not text.isspace()
        self._push(TextDelta(text=text), TextDelta)

    def _reasoning(self, text: str) -> None:
        if text:
            self._push(ReasoningDelta(text=text), ReasoningDelta)

    def _push(self, event: TextDelta | ReasoningDelta, kind: type) -> None:
        last = self._out[-1] if self._out else None
        if isinstance(last, kind):  # one delta per kind and feed is enough
            event = kind(text=last.text + event.text)
            self._out[-1] = event
        else:
            self._out.append(event)

    def _calls(self, calls: list[ToolCall]) -> None:
        self._out.extend(ToolCallParsed(call=call) for call in calls)
        self._line_start = self._trim_lead = True

    def _take(self, end: int) -> str:
        head, self._buf = self._buf[:end], self._buf[end:]
        return head

    # Text and code blocks

    def _markers(self) -> list[str]:
        m = self._markup
        return [x for x in (m.call_open, m.think_open, *m.stray) if x]

    def _step_text(self, final: bool) -> bool:
        if self._mode == "text" and self._bare_allowed and not self._spoke:
            head = self._buf.lstrip()
            if head.startswith("{") or head.startswith(_XML_HEADS):
                self._mode = "bare"
                return True
            if not final and (not head or any(x.startswith(head) for x in _XML_HEADS)):
                return False  # blanks, or the start of `<tools>`, before a possible bare call
        hit = self._next_hit(final)
        if hit is not None:
            start, end, action = hit
            self._text(self._take(start))
            action(self._take(end - start))
            return True
        keep = 0 if final else self._holdback()
        self._text(self._take(len(self._buf) - keep))
        return False

    def _next_hit(self, final: bool) -> tuple[int, int, Callable[[str], None]] | None:
        """(start, end, action) of the first marker or fence line in the buffer."""
        hits = []
        found = _first(self._buf, self._markers())
        if found:
            hits.append((found[0], found[0] + len(found[1]), self._on_marker))
        pattern = _FENCE_OPEN if self._mode == "text" else _FENCE_CLOSE
        for match in pattern.finditer(self._buf):
            at_end = match.end() == len(self._buf) and not match.group().endswith("\n")
            if (match.start() > 0 or self._line_start) and (final or not at_end):
                action = self._on_fence_open if self._mode == "text" else self._on_fence_close
                hits.append((match.start(), match.end(), action))
                break
        return min(hits, key=lambda h: h[0]) if hits else None

    def _holdback(self) -> int:
        keep = max((_partial_suffix(self._buf, m) for m in self._markers()), default=0)
        line = self._buf.rfind("\n") + 1
        if line > 0 or self._line_start:
            maybe = _MAYBE_OPEN if self._mode == "text" else _MAYBE_CLOSE
            if maybe.fullmatch(self._buf, line):
                keep = max(keep, len(self._buf) - line)
        return keep

    def _on_marker(self, marker: str) -> None:
        m = self._markup
        if marker == m.call_open:
            self._mode, self._call_marker = "call", marker
        elif marker == m.think_open:
            self._mode, self._header_pending = "think", True
        # stray closing markers are dropped

    def _on_fence_open(self, line: str) -> None:
        lang = _FENCE_OPEN.match(line).group(1).lower()
        if lang in _CALL_FENCES:
            self._mode, self._fence_line = "fence", line
        else:
            self._text(line)
            self._mode = "code"

    def _on_fence_close(self, line: str) -> None:
        self._text(line)
        self._mode = "text"

    # Reasoning

    def _step_think(self, final: bool) -> bool:
        header = self._markup.think_header
        if self._header_pending and header:
            if not final and len(self._buf) < len(header) and header.startswith(self._buf):
                return False
            if self._buf.startswith(header):
                self._take(len(header))
            self._header_pending = False
        ends = [x for x in (self._markup.think_close, self._markup.call_open) if x]
        found = _first(self._buf, ends)
        if found is not None:
            self._reasoning(self._take(found[0]))
            if found[1] == self._markup.think_close:
                self._take(len(found[1]))
            self._mode, self._line_start, self._trim_lead = "text", True, True
            return True
        keep = 0 if final else max((_partial_suffix(self._buf, e) for e in ends), default=0)
        self._reasoning(self._take(len(self._buf) - keep))
        return False

    # Marked calls

    def _call_end(self) -> tuple[int, int] | None:
        """(body end, block end) of the call being read, if its end has arrived.

        A new open marker also ends it. In Gemma 4 calls, markers inside `<|"|>` strings
        do not count.
        """
        m = self._markup
        ends = [m.call_close, m.call_open]
        pos = 0
        while True:
            found = _first(self._buf, ends + ([QUOTE] if self.fmt == "gemma4" else []), pos)
            if found is None:
                return None
            at, marker = found
            if marker == m.call_close:
                return at, at + len(marker)
            if marker == m.call_open:
                return at, at
            closing = self._buf.find(QUOTE, at + len(QUOTE))
            if closing < 0:
                return None
            pos = closing + len(QUOTE)

    def _step_call(self, final: bool) -> bool:
        m = self._markup
        recent = self._buf[max(0, self._scanned - 16) :]
        if not final and m.call_close not in recent and m.call_open not in recent:
            self._scanned = len(self._buf)  # long calls: do not rescan on every token
            return False
        end = self._call_end()
        if end is None and not final:
            return False
        body_end, block_end = end if end is not None else (len(self._buf), len(self._buf))
        body = self._take(block_end)[:body_end]
        parse = parse_native_calls if self.fmt == "gemma4" else parse_json_calls
        self._calls(parse(body))
        self._mode, self._call_marker = "text", None
        return True

    # Unmarked calls: fenced JSON and a bare JSON response

    def _step_fence(self, final: bool) -> bool:
        head = self._buf.lstrip()
        if head and head[0] not in "{[":  # an ordinary code block: stream it
            self._text(self._fence_line)
            self._mode = "code"
            return True
        line = self._buf.rfind("\n", 0, self._scanned) + 1  # where an unseen end may start
        close = next((c for c in _FENCE_CLOSE.finditer(self._buf, line)
                      if final or c.group().endswith("\n")), None)
        if close is None and not final:
            self._scanned = len(self._buf)
            return False
        end = close.end() if close else len(self._buf)
        block = self._take(end)
        calls = parse_unmarked_calls(block[: close.start() if close else end], self.tool_names)
        if calls:
            self._calls(calls)
        else:
            self._text(self._fence_line + block)
        self._mode = "text"
        return True

    def _step_bare(self, final: bool) -> bool:
        xml = self._buf.lstrip().startswith(_XML_HEADS)
        if not xml and _bare_verdict(self._buf) is False:
            self._mode, self._bare_allowed = "text", False
            return True
        if not final:
            return False
        if xml:
            calls = parse_xml_calls(self._buf, self.tool_names)
        else:
            calls = parse_unmarked_calls(self._buf, self.tool_names)
        self._mode, self._bare_allowed = "text", False
        if calls:
            self._take(len(self._buf))
            self._calls(calls)
        return True
