"""Images as spans of a token list, the part both local backends share.

A backend keeps its conversation as one token list. An image becomes a run of placeholder
ids in that list, one per position the image takes in the model's cache; the ids are
negative (no real token is) and derived from the image's bytes, so the same image at the
same place matches itself and prefix reuse goes on working past it. How an image is encoded
is each engine's own (`llama_vision` on llama.cpp, `mlx_vision` on MLX).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gemma_code.agent.messages import ImagePart, Message, ToolMessage, UserMessage


class VisionError(Exception):
    """The image projector cannot be used, or an image cannot be encoded; says why."""


def placeholder_id(image_bytes: bytes) -> int:
    """The id every position of this image carries in the token list: negative, stable."""
    return -1 - int(hashlib.sha256(image_bytes).hexdigest()[:7], 16)


def last_images(messages: Sequence[Message], count: int) -> list[ImagePart]:
    """The last `count` images of the conversation, in order: those a rendered suffix holds."""
    images = [p for m in messages if isinstance(m, (UserMessage, ToolMessage))
              for p in m.content if isinstance(p, ImagePart)]
    return images[len(images) - count:] if count > 0 else []


def encode_with_images(text: str, messages: Sequence[Message], tokenize, vision) -> list[int]:
    """Tokens for a rendered suffix of `messages`: plain `tokenize` for text, and, when `vision`
    (a `Projector` or an `MlxVision`) is given, its image markers become image spans."""
    if vision is None or vision.marker not in text:
        return tokenize(text)
    # The text is the end of the conversation, so its markers stand for its last images.
    return vision.tokenize(text, last_images(messages, text.count(vision.marker)))


def image_start(tokens: Sequence[int], at: int) -> int:
    """`at`, moved back to the start of the image it falls inside (images are fed whole)."""
    while 0 < at < len(tokens) and tokens[at] < 0 and tokens[at - 1] == tokens[at]:
        at -= 1
    return at


def chunk_end(tokens: Sequence[int], at: int, end: int) -> int:
    """Where a pass from `at` that would stop at `end` stops: before an image it would cut,
    or after it when the image starts at `at` (an image may exceed the chunk size)."""
    cut = image_start(tokens, end)
    if cut > at:
        return cut
    while end < len(tokens) and tokens[end] == tokens[at]:
        end += 1
    return end
