"""Typed conversation messages.

Messages stay typed inside the program; backends turn them into a wire dialect (a chat
template, an OpenAI-style dict) at their own edge.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class TextPart(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image given to the model: a file on disk, with its media type."""

    model_config = ConfigDict(frozen=True)
    type: Literal["image"] = "image"
    path: Path
    media_type: str = "image/png"


Part = Annotated[Union[TextPart, ImagePart], Field(discriminator="type")]


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:12]


class ToolCall(BaseModel):
    """A complete tool call the model made.

    `parse_error` is set when the model's call could not be read (bad JSON, unknown
    syntax); the registry turns it into a tool error the model sees.
    """

    model_config = ConfigDict(frozen=True)
    id: str = Field(default_factory=new_call_id)
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    parse_error: str | None = None


class SystemMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["system"] = "system"
    content: str


class UserMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["user"] = "user"
    content: tuple[Part, ...]

    @classmethod
    def of(cls, text: str, attachments: tuple[Part, ...] = ()) -> UserMessage:
        """The user's text after what they attached (images, or text read from them)."""
        return cls(content=(*attachments, TextPart(text=text)))

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def typed(self) -> str:
        """What the person typed: the last text part (attachments and notes come before it)."""
        texts = [p.text for p in self.content if isinstance(p, TextPart)]
        return texts[-1] if texts else ""


class AssistantMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["assistant"] = "assistant"
    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class ToolMessage(BaseModel):
    """The result of one tool call, as the model will see it."""

    model_config = ConfigDict(frozen=True)
    role: Literal["tool"] = "tool"
    call_id: str
    name: str
    content: tuple[Part, ...]
    is_error: bool = False

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))


Message = Annotated[
    Union[SystemMessage, UserMessage, AssistantMessage, ToolMessage], Field(discriminator="role")
]
