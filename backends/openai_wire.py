"""Typed messages and tool specs as an OpenAI chat-completions request holds them.

Images go as data URLs to a model that reads them; a tool result's images follow it in a user
message, since most servers accept images only there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gemma_code.agent.messages import (
    AssistantMessage, ImagePart, Message, Part, SystemMessage, TextPart, ToolMessage, UserMessage,
)
from gemma_code.agent.protocols import ToolSpec

IMAGE_NOTE = "(an image was attached here; this model reads no images)"


def data_url(path: Path, media_type: str) -> str:
    """The image file as a `data:` URL."""
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _content(parts: Sequence[Part], vision: bool) -> str | list[dict[str, Any]]:
    """Plain text when there is no image to send; else a list of text and image parts."""
    if not vision or not any(isinstance(p, ImagePart) for p in parts):
        return "\n".join(p.text if isinstance(p, TextPart) else IMAGE_NOTE for p in parts)
    return [{"type": "text", "text": p.text} if isinstance(p, TextPart)
            else {"type": "image_url", "image_url": {"url": data_url(p.path, p.media_type)}}
            for p in parts]


def _assistant(message: AssistantMessage) -> dict[str, Any]:
    # "" rather than null beside tool calls: some servers (llama-cpp-python's) refuse null
    wire: dict[str, Any] = {"role": "assistant", "content": message.text}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
            for call in message.tool_calls
        ]
    return wire


def _tool(message: ToolMessage, vision: bool) -> list[dict[str, Any]]:
    texts = [p for p in message.content if isinstance(p, TextPart)]
    images = [p for p in message.content if isinstance(p, ImagePart)]
    wire = [{"role": "tool", "tool_call_id": message.call_id,
             "content": "\n".join(p.text for p in texts) or "(no output)"}]
    if images and vision:
        note = TextPart(text=f"(the image{'s' if len(images) > 1 else ''} {message.name} returned)")
        wire.append({"role": "user", "content": _content((note, *images), vision)})
    return wire


def chat_messages(messages: Sequence[Message], vision: bool) -> list[dict[str, Any]]:
    """The conversation in the chat-completions dialect."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            wire.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage):
            wire.append({"role": "user", "content": _content(message.content, vision)})
        elif isinstance(message, AssistantMessage):
            wire.append(_assistant(message))
        elif isinstance(message, ToolMessage):
            wire.extend(_tool(message, vision))
    return wire


def chat_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tool specs as `tools` entries of type function."""
    return [{"type": "function",
             "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in tools]
