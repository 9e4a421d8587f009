"""Generated model outputs and conversations, and the properties the readers of model output
and the chat templates must keep (see `evals.bench.fuzz`, which runs them; tests/test_fuzz.py
runs them with few inputs)."""

from __future__ import annotations

import atexit
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from gemma_code.agent.events import ReasoningDelta, TextDelta, ToolCallParsed
from gemma_code.agent.messages import (
    AssistantMessage, SystemMessage, TextPart, ToolCall, ToolMessage, UserMessage,
)
from gemma_code.agent.protocols import ToolSpec
from gemma_code.backends.chat_template import FALLBACK_TEMPLATES, ChatTemplate
from gemma_code.backends.grammar import json_call_rest_grammar
from gemma_code.backends.toolcall_syntax import (
    QUOTE, parse_json_calls, parse_native_calls, parse_unmarked_calls, parse_xml_calls,
)
from gemma_code.backends.toolcalls import ToolCallParser

TOOLS = frozenset({"read_file", "write_file", "edit_file", "list_files", "run_shell", "grep"})
FORMATS = ("gemma4", "hermes", "plain")
TOOL_SPECS = [ToolSpec(name, "", {"type": "object", "properties": {"path": {"type": "string"}}})
              for name in sorted(TOOLS)]
MARKERS = (
    "<|tool_call>", "<tool_call|>", "<|channel>", "<channel|>", "thought\n", QUOTE,
    "<|tool_response>", "<tool_response|>", "<tool_call>", "</tool_call>", "<think>",
    "</think>", "<tools>", "</tools>", "<function ", "call:", "```", "```json\n", "```python\n",
    "\n```\n", "```tool_call\n", "{", "}", "[", "]", '"', ":", ",", "\n", " ", "<", "|", "`",
)
OPENERS = ("[", '{"a": ', "{a:", QUOTE, "<|tool_call>", "<tool_call>", "```json\n", "\n", " ")
TEMPLATE_MARKERS = (
    "<|turn>", "<turn|>", "<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>",
    "{{", "}}", "{%", "%}", "{#", "<bos>", "<eos>", "<|tool>", "<tool|>", *MARKERS,
)


# Generated values ------------------------------------------------------------------------

names = st.sampled_from(sorted(TOOLS)) | st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True)
native_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
marked_text = st.lists(st.sampled_from(MARKERS) | st.text(max_size=6), max_size=6).map("".join)
short_text = st.text(max_size=20) | marked_text


def json_values(strings: st.SearchStrategy[str] = short_text,
                keys: st.SearchStrategy[str] = st.text(max_size=8)) -> st.SearchStrategy[Any]:
    """JSON-compatible values, nested a little."""
    leaves = (st.none() | st.booleans() | st.integers()
              | st.floats(allow_nan=False, allow_infinity=False) | strings)
    return st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=6,
    )


arguments = st.dictionaries(st.text(max_size=8), json_values(), max_size=4)
# Native strings cannot hold the delimiter; native keys are bare words.
native_strings = short_text.filter(lambda s: QUOTE not in s)
native_arguments = st.dictionaries(native_keys, json_values(native_strings, native_keys), max_size=4)


def native(value: Any) -> str:
    """`value` written in Gemma 4's call syntax."""
    if isinstance(value, str):
        return QUOTE + value + QUOTE
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{native(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(native, value)) + "]"
    return json.dumps(value)


def hermes_call(name: str, args: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


def native_call(name: str, args: dict[str, Any]) -> str:
    return f"<|tool_call>call:{name}{native(args)}<tool_call|>"


def _call_texts(name: str, args: dict[str, Any]) -> list[str]:
    obj = json.dumps({"name": name, "arguments": args})
    openai = json.dumps({"function": {"name": name, "arguments": json.dumps(args)}})
    return [
        hermes_call(name, args), native_call(name, args),
        f"```json\n{obj}\n```\n", obj, f"[{obj}, {openai}]",
        f"<tools><function name=\"{name}\" arguments='{json.dumps(args)}'/></tools>",
    ]


@st.composite
def call_pieces(draw: st.DrawFn) -> str:
    """One call in one of the syntaxes the parsers read, possibly cut short."""
    text = draw(st.sampled_from(_call_texts(draw(names), draw(arguments))))
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


def repeated(units: st.SearchStrategy[str], most: int) -> st.SearchStrategy[str]:
    """A short run of `units` said over and over, as a model caught in a loop does."""
    run = st.lists(units, min_size=1, max_size=2).map("".join)
    times = st.integers(1, most) | st.just(most)  # the full run is what deep nesting needs
    return st.builds(lambda text, count: text * count, run, times)


pieces = (short_text | st.sampled_from(MARKERS) | call_pieces()
          | repeated(st.sampled_from(OPENERS), 5000))
model_outputs = st.text(max_size=60) | st.lists(pieces, max_size=8).map("".join)
parser_setups = st.tuples(st.sampled_from(FORMATS), st.sampled_from([None, TOOLS]), st.booleans())


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    """`text` cut into stream chunks: at generated points, or one character at a time."""
    if len(text) > 300 or draw(st.booleans()):  # a long text one character at a time is slow
        cuts = draw(st.lists(st.integers(0, len(text)), max_size=12))
    else:
        cuts = list(range(len(text) + 1))
    points = [0, *sorted(set(cuts)), len(text)]
    return [text[a:b] for a, b in zip(points, points[1:])]


@st.composite
def split_outputs(draw: st.DrawFn) -> tuple[tuple, str, list[str]]:
    """(parser setup, a model output, the same output cut into chunks)."""
    output = draw(model_outputs)
    return draw(parser_setups), output, draw(splits(output))


# The streaming parser ---------------------------------------------------------------------


def _stream(setup: tuple, chunks: Sequence[str]) -> tuple:
    """(text, reasoning, calls, kinds) the parser reads from `chunks`; polls it as a backend does."""
    fmt, tool_names, in_reasoning = setup
    parser = ToolCallParser(fmt, tool_names, starts_in_reasoning=in_reasoning)
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
        assert isinstance(parser.in_tool_call, bool) and isinstance(parser.call_text, str)
        if parser.json_opening is not None:  # a backend then asks for the rest of the call
            opened, fence = parser.json_opening
            rest = json_call_rest_grammar(TOOL_SPECS, opened, fence=fence)
            assert rest is None or rest.startswith("root ::= ")
    events += parser.finish()
    return _summary(events)


def _summary(events: list) -> tuple:
    kinds: list[str] = []
    for event in events:
        assert not isinstance(event, (TextDelta, ReasoningDelta)) or event.text, "an empty delta"
        if not kinds or kinds[-1] != event.type or event.type == "tool_call_parsed":
            kinds.append(event.type)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    calls = [_call_key(e.call) for e in events if isinstance(e, ToolCallParsed)]
    return text, reasoning, calls, kinds


def _call_key(call: ToolCall) -> tuple:
    assert isinstance(call.name, str) and call.name, "a call without a name"
    return call.name, call.arguments, call.parse_error


def check_stream_split(setup: tuple, output: str, chunks: list[str]) -> None:
    """Any split of an output into chunks reads the same as the whole output in one feed."""
    assert "".join(chunks) == output
    assert _stream(setup, chunks) == _stream(setup, [output])


@st.composite
def marked_conversations(draw: st.DrawFn) -> tuple[str, list[tuple[str, dict]], list[str]]:
    """(format, calls, chunks of an output of prose and those calls in the format's markup)."""
    fmt = draw(st.sampled_from(["gemma4", "hermes"]))
    prose = st.text(st.characters(exclude_characters="<`{["), max_size=20)
    calls = draw(st.lists(st.tuples(names, native_arguments if fmt == "gemma4" else arguments),
                          min_size=1, max_size=3))
    write = native_call if fmt == "gemma4" else hermes_call
    parts = [draw(prose)]
    for name, args in calls:
        parts += [write(name, args), draw(prose)]
    output = "".join(parts)
    if fmt == "hermes":  # JSON strings do not protect the close marker
        body_markers = sum(output.count(m) for m in ("<tool_call>", "</tool_call>"))
        if body_markers != 2 * len(calls):
            calls = []
    return fmt, calls, draw(splits(output))


def check_stream_reads_marked_calls(fmt: str, calls: list, chunks: list[str]) -> None:
    """Calls written in the format's markup come out with their names and arguments."""
    if not calls:
        return  # a hermes argument held a marker: nothing definite to compare
    _, _, read, _ = _stream((fmt, None, False), chunks)
    assert read == [(name, args, None) for name, args in calls]


# The readers of one piece of call text ----------------------------------------------------


def _valid_calls(calls: list[ToolCall] | None) -> None:
    assert calls is None or (isinstance(calls, list) and all(isinstance(c, ToolCall) for c in calls))
    for call in calls or []:
        assert isinstance(call.arguments, dict) and call.name
        assert call.parse_error is None or (isinstance(call.parse_error, str) and not call.arguments)


def check_readers(text: str, tool_names: frozenset[str] | None) -> None:
    """Every reader returns calls (broken ones with `parse_error`) or None; never raises."""
    for read in (parse_native_calls, parse_json_calls):
        calls = read(text)
        _valid_calls(calls)
        assert calls, "a marked block always yields a call"
    _valid_calls(parse_unmarked_calls(text, tool_names))
    _valid_calls(parse_xml_calls(text, tool_names))


reader_inputs = st.tuples(model_outputs, st.sampled_from([None, TOOLS]))


def check_native_round_trip(name: str, args: dict[str, Any]) -> None:
    """A call written in Gemma 4's syntax reads back as written."""
    body = native_call(name, args)[len("<|tool_call>") : -len("<tool_call|>")]
    assert [_call_key(c) for c in parse_native_calls(body)] == [(name, args, None)]


def check_json_round_trip(name: str, args: dict[str, Any]) -> None:
    """A JSON call reads back as written: marked, fenced and bare."""
    obj = json.dumps({"name": name, "arguments": args})
    assert [_call_key(c) for c in parse_json_calls(obj)] == [(name, args, None)]
    assert [_call_key(c) for c in parse_unmarked_calls(obj, None)] == [(name, args, None)]


# Chat templates ---------------------------------------------------------------------------

FIXTURES = Path(__file__).parents[2] / "tests" / "fixtures"
GEMMA4_VOCAB = FIXTURES / "gemma4-vocab" / "ggml-vocab-gemma-4.gguf"


@functools.cache
def gemma4_vocab():
    """The Gemma 4 vocabulary (no weights) in llama.cpp, or None without llama-cpp-python."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(GEMMA4_VOCAB), vocab_only=True, verbose=False)
    atexit.register(llm.close)  # before the interpreter tears down what `close` needs
    return llm


@functools.cache
def shipped_templates() -> dict[str, ChatTemplate]:
    """The chat templates the project ships: Gemma 4's (the test vocabulary), the bundled
    Qwen's when its packages are installed, and the built-in fallbacks."""
    templates = {name: ChatTemplate(source) for name, source in FALLBACK_TEMPLATES.items()}
    llm = gemma4_vocab()
    if llm is not None:
        piece = lambda t: llm.detokenize([t], special=True).decode()  # noqa: E731
        templates["gemma4"] = ChatTemplate(llm.metadata["tokenizer.chat_template"],
                                           piece(llm.token_bos()), piece(llm.token_eos()))
        qwen = _bundled_qwen_template()
        if qwen is not None:
            templates["qwen"] = qwen
    return templates


def _bundled_qwen_template() -> ChatTemplate | None:
    from llama_cpp import Llama

    from gemma_code.backends.models.registry import ensure_local, get_spec, is_present

    spec = get_spec("qwen2.5-coder-1.5b")
    if not is_present(spec):
        return None
    llm = Llama(model_path=str(ensure_local(spec)), vocab_only=True, verbose=False)
    try:
        return ChatTemplate(llm.metadata["tokenizer.chat_template"])
    finally:
        llm.close()


template_text = st.text(max_size=30) | st.lists(
    st.sampled_from(TEMPLATE_MARKERS) | st.text(max_size=6), max_size=6).map("".join)
READ_SPEC = ToolSpec("read_file", "Read a file.", {
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})


@st.composite
def turns(draw: st.DrawFn) -> list:
    """A user message, then the assistant's calls with their results, then its answer."""
    messages: list = [UserMessage.of(draw(template_text))]
    calls = draw(st.lists(st.builds(ToolCall, name=names, arguments=arguments), max_size=2))
    if calls:
        messages.append(AssistantMessage(text=draw(template_text), tool_calls=tuple(calls)))
        messages += [ToolMessage(call_id=c.id, name=c.name, content=(TextPart(text=draw(template_text)),))
                     for c in calls]
    messages.append(AssistantMessage(text=draw(template_text)))
    return messages


@st.composite
def conversations(draw: st.DrawFn) -> tuple[str, list]:
    """(a shipped template's name, a conversation of generated turns)."""
    messages = [SystemMessage(content=draw(template_text))] if draw(st.booleans()) else []
    for turn in draw(st.lists(turns(), min_size=1, max_size=3)):
        messages += turn
    return draw(st.sampled_from(sorted(shipped_templates()))), messages


def check_template_renders(template_name: str, messages: list) -> None:
    """A shipped template renders any conversation, earlier turns as a prefix of later ones."""
    template = shipped_templates()[template_name]
    text = template.render(messages, [READ_SPEC], True)
    assert isinstance(text, str) and text
    for user in (m for m in messages if isinstance(m, UserMessage)):
        assert user.text.strip() in text
    if template_name in FALLBACK_TEMPLATES:
        return  # the fallbacks make no prefix promise: they have no tool turns
    ends = [i + 1 for i, m in enumerate(messages[:-1]) if isinstance(m, AssistantMessage)]
    for end in ends:  # the append-only prompt history relies on this
        assert text.startswith(template.render(messages[:end], [READ_SPEC], False))
