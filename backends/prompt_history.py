"""The conversation as an append-only token list, shared by the local backends.

The model's own generated tokens stay in the history, and each step tokenizes only the
text the chat template adds after them (tool results, the next user message, the
generation prompt). A plain re-render would differ from the generated tokens (templates
strip thinking and re-render tool arguments) and throw the prefix cache away from the first
assistant message on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gemma_code.agent.messages import AssistantMessage, Message
from gemma_code.agent.protocols import ToolSpec

from .chat_template import ChatTemplate

# Plain word characters: templates trim content, and str.strip() eats control characters.
_SENTINEL = "GEMMACODE0END0OF0CONTENT"

# (rendered text, the messages it is the end of) -> tokens
Encoder = Callable[[str, Sequence[Message]], list[int]]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share: what a cache holding `a` can keep for `b`."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def tools_key(tools: Sequence[ToolSpec]) -> str:
    return repr([(t.name, t.parameters) for t in tools])


@dataclass
class History:
    """What the cache holds for this conversation, and which messages it covers."""

    tokens: list[int]
    fingerprints: list[str]  # the messages the last prompt was rendered from
    tools_key: str
    streamed_text: str = ""  # the assistant text generated after that prompt
    end_piece: str | None = None  # text of the end-of-generation token appended to `tokens`
    prompt: list[int] | None = None  # that prompt alone, for the same step sampled again


class PromptHistory:
    """Builds each step's prompt tokens, appending to what the model already has."""

    def __init__(self, template: ChatTemplate, encode: Encoder) -> None:
        self.template = template
        self.encode = encode
        self.last: History | None = None

    def build(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[int]:
        """The token list for the next step, reusing the generated history when possible."""
        fingerprints = [m.model_dump_json() for m in messages]
        key = tools_key(tools)
        h = self.last
        if h is not None and h.prompt is not None and (h.fingerprints, h.tools_key) == (
                fingerprints, key):
            # The same step again (a retry): what it generated last time is dropped.
            self.last = History(list(h.prompt), fingerprints, key, prompt=h.prompt)
            return list(h.prompt)
        full = self.template.render(messages, tools, True)
        tokens = self._incremental(messages, tools, full, fingerprints, key)
        if tokens is None:
            tokens = self.encode(full, messages)
        self.last = History(tokens, fingerprints, key, prompt=list(tokens))
        return tokens

    def record(self, prompt: list[int], generated: list[int], end_token: int | None,
               streamed_text: str, end_piece: str | None) -> None:
        """What the step produced: the next step continues after it."""
        h = self.last
        h.tokens = prompt + generated + ([end_token] if end_token is not None else [])
        h.streamed_text, h.end_piece = streamed_text, end_piece

    def _close_glue(self, history: History, before: Sequence[Message], tools) -> str | None:
        """The template text that follows the generated assistant content in the history."""
        probe = self.template.render([*before, AssistantMessage(text=_SENTINEL)], tools, False)
        at = probe.rfind(_SENTINEL)
        if at < 0:
            return None
        after = probe[at + len(_SENTINEL):]
        if history.end_piece is None:
            return after
        return after[len(history.end_piece):] if after.startswith(history.end_piece) else None

    def _incremental(self, messages, tools, full: str, fingerprints, key) -> list[int] | None:
        h = self.last
        if h is None or h.tools_key != key:
            return None
        n = len(h.fingerprints)
        if len(messages) <= n + 1 or fingerprints[:n] != h.fingerprints:
            return None
        answer = messages[n]
        if not isinstance(answer, AssistantMessage) or answer.text != h.streamed_text:
            return None
        covered = self.template.render(messages[: n + 1], tools, False)
        if not full.startswith(covered):
            return None  # this template is not prefix-stable here; fall back to a re-render
        glue = self._close_glue(h, messages[:n], tools)
        if glue is None:
            return None
        return h.tokens + self.encode(glue + full[len(covered):], messages)
