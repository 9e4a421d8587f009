"""Reading the text of tool calls: Gemma 4's native argument syntax and JSON calls.

These functions see one complete piece of text (the inside of a `<|tool_call>` block, a
`<tool_call>` block, a fenced block, a whole response); `toolcalls.ToolCallParser` finds
those pieces in a token stream.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gemma_code.agent.messages import ToolCall

QUOTE = '<|"|>'  # Gemma 4's string delimiter (a single token)
UNKNOWN_NAME = "unknown"

_NAME = re.compile(r"\s*(?:call\s*:\s*)?([A-Za-z_][\w.\-]*)")
_NUMBER = re.compile(r"-?(?:\d+)(\.\d+)?([eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_$][\w.$\-]*")
_WORDS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_NATIVE_HINT = (
    'Write a call as <|tool_call>call:NAME{key:<|"|>text<|"|>,count:1,flag:true}<tool_call|>.'
)
_JSON_HINT = 'Write a call as <tool_call>\n{"name": "NAME", "arguments": {...}}\n</tool_call>.'
_NAME_KEYS = ("name", "tool", "tool_name")
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_LAX_JSON = json.JSONDecoder(strict=False)  # models put raw newlines in strings
# A model caught in a loop can open thousands of brackets: the decoder then runs out of stack.
_UNREADABLE_JSON = (json.JSONDecodeError, RecursionError)
_MAX_NESTING = 100  # of native objects and arrays, well within Python's recursion limit


class NativeSyntaxError(ValueError):
    """The native argument text could not be read."""


class _NativeReader:
    """Recursive-descent reader of Gemma 4 values: `{k:<|"|>s<|"|>,n:1,a:[true,null]}`.

    Tolerates JSON quoting of keys and strings, Python's True/False/None, trailing commas.
    """

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text, self.pos = text, pos
        self.depth = 0

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def error_at(self, what: str) -> NativeSyntaxError:
        if self.pos >= len(self.text):
            return NativeSyntaxError(f"the call ends early: expected {what}")
        near = self.text[self.pos : self.pos + 20]
        return NativeSyntaxError(f"expected {what} at offset {self.pos} (near {near!r})")

    def peek(self) -> str:
        self._skip()
        return self.text[self.pos : self.pos + 1]

    def value(self) -> Any:
        char = self.peek()
        if self.text.startswith(QUOTE, self.pos):
            return self._native_string()
        if char == "{":
            return self.object()
        if char == "[":
            return self._array()
        if char == '"':
            return self._json_string()
        return self._scalar()

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_NESTING:
            raise self.error_at(f"at most {_MAX_NESTING} nested objects and arrays")

    def object(self) -> dict[str, Any]:
        self._enter()
        self.pos += 1  # "{"
        result: dict[str, Any] = {}
        while self.peek() != "}":
            if not self.peek():
                raise self.error_at("'}'")
            key = self._key()
            if self.peek() != ":":
                raise self.error_at(f"':' after key {key!r}")
            self.pos += 1
            result[key] = self.value()
            if not self._separator("}"):
                raise self.error_at("',' or '}'")
        self.pos += 1
        self.depth -= 1
        return result

    def _array(self) -> list[Any]:
        self._enter()
        self.pos += 1  # "["
        items: list[Any] = []
        while self.peek() != "]":
            if not self.peek():
                raise self.error_at("']'")
            items.append(self.value())
            if not self._separator("]"):
                raise self.error_at("',' or ']'")
        self.pos += 1
        self.depth -= 1
        return items

    def _separator(self, closer: str) -> bool:
        char = self.peek()
        if char == ",":
            self.pos += 1
            return True
        return char == closer

    def _key(self) -> str:
        if self.text.startswith(QUOTE, self.pos):
            return self._native_string()
        if self.text[self.pos] == '"':
            return self._json_string()
        match = _WORD.match(self.text, self.pos)
        if not match:
            raise self.error_at("a key")
        self.pos = match.end()
        return match.group()

    def _native_string(self) -> str:
        start = self.pos + len(QUOTE)
        end = self.text.find(QUOTE, start)
        if end < 0:
            raise self.error_at(f"a closing {QUOTE}")
        self.pos = end + len(QUOTE)
        return self.text[start:end]

    def _json_string(self) -> str:
        try:
            value, self.pos = _LAX_JSON.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            raise self.error_at(f"a complete string ({exc.msg})") from None
        return value

    def _scalar(self) -> Any:
        number = _NUMBER.match(self.text, self.pos)
        word = _WORD.match(self.text, self.pos)
        if word and word.group() in _WORDS:
            self.pos = word.end()
            return _WORDS[word.group()]
        if number:
            self.pos = number.end()
            is_float = number.group(1) or number.group(2)
            return float(number.group()) if is_float else int(number.group())
        raise self.error_at("a value")


def parse_native_calls(body: str) -> list[ToolCall]:
    """Calls from the inside of a `<|tool_call>...<tool_call|>` block (usually one).

    Recovers a missing `call:` prefix, missing arguments and trailing junk; anything else
    becomes a `ToolCall` with `parse_error` set.
    """
    if body.lstrip().startswith("{"):  # a JSON call inside native markers
        return parse_json_calls(body)
    calls: list[ToolCall] = []
    pos = 0
    while True:
        call, pos = _native_call(body, pos)
        calls.append(call)
        rest = body[pos:].lstrip()
        if call.parse_error or not rest.startswith("call:"):
            return calls
        pos = len(body) - len(rest)


def _native_call(body: str, pos: int) -> tuple[ToolCall, int]:
    match = _NAME.match(body, pos)
    if not match:
        error = f"could not read a tool name in {body.strip()[:60]!r}. {_NATIVE_HINT}"
        return ToolCall(name=UNKNOWN_NAME, parse_error=error), len(body)
    name, reader = match.group(1), _NativeReader(body, match.end())
    if not reader.peek():
        return ToolCall(name=name), reader.pos  # a call without arguments
    if reader.peek() != "{":
        error = f"could not read the arguments of {name}: {reader.error_at(repr('{'))}. {_NATIVE_HINT}"
        return ToolCall(name=name, parse_error=error), len(body)
    try:
        arguments = reader.object()
    except NativeSyntaxError as exc:
        error = f"could not read the arguments of {name}: {exc}. {_NATIVE_HINT}"
        return ToolCall(name=name, parse_error=error), len(body)
    return ToolCall(name=name, arguments=arguments), reader.pos


def _decode_values(text: str) -> tuple[list[Any], str]:
    """JSON values separated by whitespace, and the text left after the last one."""
    values: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return values, ""
        try:
            value, pos = _LAX_JSON.raw_decode(text, pos)
        except _UNREADABLE_JSON:
            return values, text[pos:]
        values.append(value)


def _call_fields(obj: Any) -> tuple[str, Any, bool] | None:
    """(name, raw arguments, whether an arguments key was present) of a call-shaped object."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI style
        return _call_fields(obj["function"])
    name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
    if name is None:
        return None
    arg_key = next((k for k in _ARG_KEYS if k in obj), None)
    return name, obj.get(arg_key) if arg_key else None, arg_key is not None


def _arguments(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str):  # OpenAI-style arguments: a JSON string
        raw = _LAX_JSON.decode(raw) if raw.strip() else {}
    if not isinstance(raw, dict):
        raise ValueError(f"arguments must be an object, not {type(raw).__name__}")
    return raw


def _to_call(obj: Any) -> ToolCall:
    fields = _call_fields(obj)
    if fields is None:
        error = f"a tool call needs a name and arguments. {_JSON_HINT}"
        return ToolCall(name=UNKNOWN_NAME, parse_error=error)
    name, raw, _ = fields
    try:
        return ToolCall(name=name, arguments=_arguments(raw))
    except (ValueError, RecursionError) as exc:
        return ToolCall(name=name, parse_error=f"could not read the arguments of {name}: {exc}")


def _flatten(values: list[Any]) -> list[Any]:
    return [item for v in values for item in (v if isinstance(v, list) else [v])]


def guess_name(text: str) -> str:
    """The tool name in broken call text, when it is still readable."""
    match = re.search(r'"(?:name|tool)"\s*:\s*"([^"]+)"', text) or _NAME.match(text)
    return match.group(1) if match else UNKNOWN_NAME


def parse_json_calls(body: str) -> list[ToolCall]:
    """Calls from the inside of a `<tool_call>...</tool_call>` block (Hermes/Qwen).

    The block is known to be a call, so broken text becomes a call with `parse_error`.
    """
    values, _junk = _decode_values(body)
    calls = [_to_call(v) for v in _flatten(values)]  # junk after the JSON is ignored
    if not calls:  # nothing readable, or only an empty list (`[]`)
        reason = ("it is empty" if not body.strip() or values else _json_error(body))
        error = f"could not read the tool call: {reason}. {_JSON_HINT}"
        return [ToolCall(name=guess_name(body), parse_error=error)]
    return calls


def _json_error(text: str) -> str:
    try:
        _LAX_JSON.decode(text.strip())
    except json.JSONDecodeError as exc:
        return f"invalid JSON ({exc.msg} at offset {exc.pos})"
    except RecursionError:
        return "invalid JSON (nested too deeply)"
    return "invalid JSON"


def parse_unmarked_calls(text: str, tool_names: frozenset[str] | None) -> list[ToolCall] | None:
    """Calls from JSON with no call markup (a fenced block, a whole response), or None.

    Only call-shaped JSON counts: a name with arguments, or the name of a known tool; broken
    JSON that names a known tool becomes a call with `parse_error`; anything else is not a call.
    """
    values, rest = _decode_values(text)
    if rest.strip() or not values:
        name = guess_name(text)
        if tool_names is not None and name in tool_names and '"arguments"' in text:
            error = f"could not read the tool call: {_json_error(text)}. {_JSON_HINT}"
            return [ToolCall(name=name, parse_error=error)]
        return None
    items = _flatten(values)
    fields = [_call_fields(item) for item in items]
    if not all(_is_call(f, tool_names) for f in fields):
        return None
    return [_to_call(item) for item in items]


def _is_call(fields: tuple[str, Any, bool] | None, tool_names: frozenset[str] | None) -> bool:
    # A name with arguments is a call even when no tool has that name: the model is told so.
    if fields is None:
        return False
    name, _, has_arguments = fields
    return has_arguments or (tool_names is not None and name in tool_names)


# Qwen sometimes imitates the `<tools>` block of its own system prompt instead of using
# `<tool_call>`: `<tools><function name="list_files" arguments='{"path": "."}'/></tools>`.
_XML_WRAPPER = re.compile(r"^\s*<tools>(?P<body>.*?)</tools>\s*$", re.S)
_XML_CALL = re.compile(
    r"""<function\s+name=["'](?P<name>[\w.-]+)["']\s+arguments=(?P<q>["'])(?P<args>.*?)(?P=q)\s*/>""",
    re.S,
)


def parse_xml_calls(text: str, tool_names: frozenset[str] | None) -> list[ToolCall] | None:
    """Calls from a response made only of `<function name=.. arguments='{json}'/>` elements."""
    wrapped = _XML_WRAPPER.match(text)
    body = wrapped.group("body") if wrapped else text
    calls, pos = [], 0
    for match in _XML_CALL.finditer(body):
        if body[pos : match.start()].strip():
            return None
        pos = match.end()
        name = match.group("name")
        if tool_names is not None and name not in tool_names:
            return None
        try:
            arguments = json.loads(match.group("args") or "{}")
        except _UNREADABLE_JSON as exc:
            calls.append(ToolCall(name=name, parse_error=f"arguments are not JSON: {exc}"))
            continue
        if not isinstance(arguments, dict):
            calls.append(ToolCall(name=name, parse_error="arguments must be a JSON object"))
            continue
        calls.append(ToolCall(name=name, arguments=arguments))
    return calls if calls and not body[pos:].strip() else None
