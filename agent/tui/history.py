"""A saved conversation as it was shown: what the person typed and attached, and each tool
result with the status line it had (a saved result keeps only what the model read)."""

from __future__ import annotations

import json
import re

from gemma_code.agent.attachments import Expanded
from gemma_code.agent.events import ToolFinished
from gemma_code.agent.images import OCR_NOTE_START
from gemma_code.agent.messages import (
    AssistantMessage, ImagePart, Message, SystemMessage, ToolMessage, UserMessage,
)

USER_LINES_SHOWN = 20
# How agent/images.py introduces the text OCR read from an attached image.
_OCR_NOTE = re.compile(re.escape(OCR_NOTE_START) + r"(.+?) \(\d+x\d+\)")
# How agent/attachments.py appends an `@path` file to the message the model gets.
_MENTIONED = re.compile(r"Content of (\S+)( \(first \d+ bytes\))?:\n(`{3,})\n(.*?)\n\3", re.S)
# The line a command's result ends with: `[exit code 1 after 0.4s]`.
_EXIT = re.compile(r"\[exit code (-?\d+) after ([\d.]+)s\]\s*$")
_MENTION = re.compile(r"(?<!\S)@([^\s@]+)")  # as agent/attachments.py finds them
_PATH_LIKE = re.compile(r"/|\.\w{1,5}$")
_STOPPED = re.compile(r"\[(killed after [\d.]+s|cancelled by the user after [\d.]+s)[^\]]*\]\s*$")


def user_display(text: str) -> str:
    """A resumed user message without the file contents `@path` appended for the model."""
    shown = re.split(r"\s+Content of \S+( \(first \d+ bytes\))?:\s", text, maxsplit=1)[0]
    lines = shown.splitlines()
    if len(lines) > USER_LINES_SHOWN:
        shown = "\n".join(lines[:USER_LINES_SHOWN]) + f"\n… {len(lines) - USER_LINES_SHOWN} more lines"
    return shown


def _lines(n: int) -> str:
    return f"{n:,} line{'' if n == 1 else 's'}"


def mentioned_files(text: str) -> list[str]:
    """The `@path` files a message carries, with their size: `calc.py (2 lines)`."""
    found = []
    for match in _MENTIONED.finditer(text):
        name, cut, content = match.group(1), match.group(2), match.group(4)
        size = f"first {cut.strip(' ()').split()[1]} bytes" if cut else _lines(content.count("\n") + 1)
        found.append(f"{name} ({size})")
    return found


def attached_images(message: UserMessage) -> list[str]:
    """Names of the images a saved user message carried, itself or as OCR text."""
    names = []
    for part in message.content[:-1]:
        if isinstance(part, ImagePart):
            names.append("image")
        elif match := _OCR_NOTE.match(part.text):
            names.append(match.group(1))
    return names


def attachments(message: UserMessage) -> list[str]:
    """Everything a saved user message carried: images, then `@path` files."""
    return [*attached_images(message), *mentioned_files(message.typed)]


def resumed_result(message: ToolMessage) -> ToolFinished:
    """A saved tool result as its ToolFinished read: a command's exit code and time come back
    from the line the model got; other results keep their first line (an edit's summary)."""
    text = message.text.rstrip()
    last = text.rsplit("\n", 1)[-1]
    exit_code, summary = None, ""
    if match := _EXIT.search(last):
        exit_code = int(match.group(1))
        summary = f"exit {exit_code} in {float(match.group(2)):.1f}s"
    elif match := _STOPPED.search(last):
        summary = match.group(1).replace("killed", "timed out, killed")
    elif not message.is_error and "\n" in text and not text.split("\n", 2)[1].startswith("--- "):
        summary = _lines(text.count("\n") + 1) + " of output"  # the result is all output
    return ToolFinished(call_id=message.call_id, name=message.name, is_error=message.is_error,
                        content=message.content, summary=summary, exit_code=exit_code)


def conversation_tokens(messages: list[Message], backend: object) -> int:
    """About how many tokens a conversation takes, counted with the model's own tokenizer when
    it has one (the chat template's own tokens aside)."""
    from gemma_code.agent.context.prepare import token_counter

    count = token_counter(backend)
    texts = []
    for message in messages:
        if isinstance(message, SystemMessage):
            texts.append(message.content)
        elif isinstance(message, (UserMessage, ToolMessage)):
            texts.append(message.text)
        elif isinstance(message, AssistantMessage):
            texts += [message.reasoning, message.text,
                      *(json.dumps(call.arguments) for call in message.tool_calls)]
    return count("\n".join(texts))


def missing_mentions(typed: str, expanded: Expanded) -> list[str]:
    """`@path` words that look like files (a `/` or a suffix) and attached nothing."""
    said = " ".join(expanded.problems)
    attached = {name.split(" (")[0] for name in expanded.attached}
    found = []
    for name in dict.fromkeys(_MENTION.findall(typed)):
        if name not in attached and f"@{name}" not in said and _PATH_LIKE.search(name):
            found.append(f"@{name}: no such file in the workspace; nothing attached")
    return found
