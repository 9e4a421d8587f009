"""Rendering prompts with a model's own chat template (Jinja, sandboxed).

Typed messages become template dicts here, at the backend edge. The dict shape follows what
the loaded template reads: Gemma 4 templates read tool results from `tool_responses`,
OpenAI-style templates (Qwen, Hermes) from `content`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gemma_code.agent.messages import (
    AssistantMessage, ImagePart, Message, SystemMessage, TextPart, ToolMessage, UserMessage,
)
from gemma_code.agent.protocols import ToolSpec

# Used only when a registry entry asks for it explicitly (a GGUF without a template).
FALLBACK_TEMPLATES = {
    "gemma3": (
        "{{ bos_token }}{% for m in messages %}"
        "{% set role = 'model' if m.role == 'assistant' else 'user' %}"
        "<start_of_turn>{{ role }}\n{{ m.content | trim }}<end_of_turn>\n"
        "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
}


class ChatTemplateError(Exception):
    """The model has no usable chat template."""


def unseen_image_note(image: ImagePart) -> str:
    """What a model without vision reads where an image was (after switching models, say)."""
    return f"[an image ({image.path.name}) that this model cannot see]"


class ChatTemplate:
    """A compiled chat template plus the special tokens it refers to."""

    def __init__(
        self, source: str, bos_token: str = "", eos_token: str = "", media_marker: str | None = None
    ) -> None:
        """`media_marker`: the text that stands for an image (the vision library replaces it);
        None when the model cannot see images, which then appear as a short note."""
        from jinja2 import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = self._raise
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(source)
        except TemplateError as exc:
            raise ChatTemplateError(f"the model's chat template does not compile: {exc}") from exc
        self.source = source
        self.bos_token, self.eos_token = bos_token, eos_token
        self.tool_results_as_responses = "tool_responses" in source
        self.media_marker = media_marker
        # Gemma 4's native calls, else Qwen/Hermes markup (whose parser also reads fenced JSON)
        self.tool_format = "gemma4" if "<|tool_call>" in source else "hermes"

    def _content(self, parts: Sequence[Any]) -> str:
        # Images go in as text every template can take: the marker the vision library
        # replaces with the image (as llama.cpp's own server does), or a note.
        return "\n".join(
            p.text if isinstance(p, TextPart)
            else self.media_marker or unseen_image_note(p)
            for p in parts
        )

    @staticmethod
    def _raise(message: str) -> None:
        raise ChatTemplateError(f"the chat template refused the conversation: {message}")

    def message_dicts(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Typed messages in the dict shape this template reads."""
        out: list[dict[str, Any]] = []
        for m in messages:
            if isinstance(m, SystemMessage):
                out.append({"role": "system", "content": m.content})
            elif isinstance(m, UserMessage):
                out.append({"role": "user", "content": self._content(m.content)})
            elif isinstance(m, AssistantMessage):
                d: dict[str, Any] = {"role": "assistant", "content": m.text}
                if m.tool_calls:
                    d["tool_calls"] = [
                        {"id": c.id, "type": "function",
                         "function": {"name": c.name, "arguments": c.arguments}}
                        for c in m.tool_calls
                    ]
                out.append(d)
            elif isinstance(m, ToolMessage):
                out.append(self._tool_dict(m))
                images = [p for p in m.content if isinstance(p, ImagePart)]
                if images:
                    # Chat templates take images only in user turns: the tool's image follows.
                    shown = TextPart(text=f"(the image from {m.name}:)")
                    out.append({"role": "user", "content": self._content([shown, *images])})
        return out

    def _tool_dict(self, m: ToolMessage) -> dict[str, Any]:
        if self.tool_results_as_responses:
            return {"role": "tool", "content": "",
                    "tool_responses": [{"name": m.name, "response": {"output": m.text}}]}
        return {"role": "tool", "tool_call_id": m.call_id, "name": m.name, "content": m.text}

    def render(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        add_generation_prompt: bool = True,
    ) -> str:
        from jinja2 import TemplateError

        tool_dicts = [
            {"type": "function",
             "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in tools
        ]
        try:
            return self._template.render(
                messages=self.message_dicts(messages), tools=tool_dicts or None,
                add_generation_prompt=add_generation_prompt, bos_token=self.bos_token,
                eos_token=self.eos_token, enable_thinking=False,
            )
        except TemplateError as exc:
            raise ChatTemplateError(f"the chat template failed to render: {exc}") from exc
