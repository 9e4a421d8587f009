"""The streaming tool-call parser, on outputs written the way the models really write them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from gemma_code.agent.events import ReasoningDelta, TextDelta, ToolCallParsed
from gemma_code.backends.toolcalls import ToolCallParser

TOOLS = {"read_file", "write_file", "edit_file", "list_files", "run_shell", "grep"}
MARKUP = (
    "<|tool_call>",
    "<tool_call|>",
    "<|channel>",
    "<channel|>",
    '<|"|>',
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<|tool_response>",
)
Q = '<|"|>'
CONFIG_ANSWER = 'A config could be:\n```json\n{"name": "demo", "version": 2}\n```\nOK.'


@dataclass
class Case:
    fmt: str
    output: str
    text: str = ""
    reasoning: str = ""
    calls: list[tuple[str, dict]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # names of calls with parse_error
    tool_names: set[str] | None = field(default_factory=lambda: set(TOOLS))


def run(parser: ToolCallParser, pieces: list[str]):
    events = []
    for piece in pieces:
        events += parser.feed(piece)
    return events + parser.finish()


def chunked(text: str, sizes: str | int, seed: int = 0) -> list[str]:
    if sizes == "random":
        rng, out, i = random.Random(seed), [], 0
        while i < len(text):
            n = rng.randint(1, 9)
            out.append(text[i : i + n])
            i += n
        return out
    return [text[i : i + sizes] for i in range(0, len(text), sizes)]


def summary(events):
    """(text, reasoning, calls, error names, order of kinds) with deltas merged."""
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
    kinds = []
    for e in events:
        if not kinds or kinds[-1] != e.type or e.type == "tool_call_parsed":
            kinds.append(e.type)
    good = [(c.name, c.arguments) for c in calls if c.parse_error is None]
    return text, reasoning, good, [c.name for c in calls if c.parse_error], kinds


QWEN = [
    Case(
        "hermes",
        "I'll start by reading the file to see the current implementation.\n<tool_call>\n"
        '{"name": "read_file", "arguments": {"path": "src/calc.py"}}\n</tool_call>',
        text="I'll start by reading the file to see the current implementation.\n",
        calls=[("read_file", {"path": "src/calc.py"})],
    ),
    Case(
        "hermes",
        '<tool_call>\n{"name": "grep", "arguments": {"pattern": "def add", "path": "."}}\n'
        '</tool_call>\n<tool_call>\n{"name": "list_files", "arguments": "{\\"path\\": \\"src\\"}"}'
        "\n</tool_call>",
        calls=[("grep", {"pattern": "def add", "path": "."}), ("list_files", {"path": "src"})],
    ),
    Case(
        "hermes",
        "To list the files in the current directory, I'll use the `list_files` tool:\n\n"
        '```json\n{\n  "name": "list_files",\n  "arguments": {\n    "path": "."\n  }\n}\n```',
        text="To list the files in the current directory, I'll use the `list_files` tool:\n\n",
        calls=[("list_files", {"path": "."})],
    ),
    Case(
        "hermes",
        '```\n[{"name": "read_file", "arguments": {"path": "a.py"}}, '
        '{"name": "read_file", "arguments": {"path": "b.py"}}]\n```\n',
        calls=[("read_file", {"path": "a.py"}), ("read_file", {"path": "b.py"})],
    ),
    Case(
        "hermes",
        '{"name": "run_shell", "arguments": {"command": "python -m pytest -q"}}',
        calls=[("run_shell", {"command": "python -m pytest -q"})],
    ),
    Case(
        "hermes",
        "The bug is in `add`: it subtracts. Here is the fix:\n\n```python\ndef add(a, b):\n"
        "    return a + b\n```\n\nNow `add(2, 3)` returns 5.",
        text="The bug is in `add`: it subtracts. Here is the fix:\n\n```python\ndef add(a, b):\n"
        "    return a + b\n```\n\nNow `add(2, 3)` returns 5.",
    ),
    Case(
        "hermes",
        CONFIG_ANSWER,
        text=CONFIG_ANSWER,
    ),
    Case(
        "hermes",
        "```\n$ pytest -q\n1 failed\n```\nOne test fails.",
        text="```\n$ pytest -q\n1 failed\n```\nOne test fails.",
    ),
    Case(
        "hermes", '{"name": "deploy", "arguments": {}}', calls=[("deploy", {})]
    ),  # not a known tool, but call-shaped: a call, so the model hears "unknown tool"
    Case(
        "plain", 'Reading it.\n```json\n{"name": "read", "arguments": {"path": "calc.py"}}\n```',
        text="Reading it.\n", calls=[("read", {"path": "calc.py"})],
    ),
    Case(
        "hermes",
        "<think>\nThe user wants the tests run.\n</think>\n\n<tool_call>\n"
        '{"name": "run_shell", "arguments": {"command": "pytest"}}\n</tool_call>',
        reasoning="\nThe user wants the tests run.\n",
        calls=[("run_shell", {"command": "pytest"})],
    ),
    Case(
        "plain",
        'Sure.\n```json\n{"name": "read_file", "arguments": {"path": "x"}}\n```',
        text="Sure.\n",
        calls=[("read_file", {"path": "x"})],
        tool_names=None,
    ),
]

GEMMA = [
    Case(
        "gemma4",
        "<|channel>thought\nThe user wants me to fix calc.py. I should read it first.<channel|>"
        f"<|tool_call>call:read_file{{path:{Q}calc.py{Q}}}<tool_call|>",
        reasoning="The user wants me to fix calc.py. I should read it first.",
        calls=[("read_file", {"path": "calc.py"})],
    ),
    Case(
        "gemma4",
        "I'll replace the body of `add`.\n"
        f"<|tool_call>call:edit_file{{new_string:{Q}def add(a, b):\n"
        f'    return {{"sum": a + b}}, [a, b]\n{Q},'
        f"old_string:{Q}return a - b{Q},path:{Q}calc.py{Q},replace_all:false,"
        f"context:{{lines:3,ranges:[[1,2],[5,-1]],ratio:0.5,tag:null}}}}<tool_call|>",
        text="I'll replace the body of `add`.\n",
        calls=[
            (
                "edit_file",
                {
                    "new_string": 'def add(a, b):\n    return {"sum": a + b}, [a, b]\n',
                    "old_string": "return a - b",
                    "path": "calc.py",
                    "replace_all": False,
                    "context": {"lines": 3, "ranges": [[1, 2], [5, -1]], "ratio": 0.5, "tag": None},
                },
            )
        ],
    ),
    Case(
        "gemma4",
        f"<|tool_call>call:read_file{{path:{Q}a.py{Q}}}<tool_call|>"
        f"<|tool_call>call:grep{{pattern:{Q}<tool_call|>{Q},paths:[{Q}src{Q},{Q}tests{Q}]}}<tool_call|>",
        calls=[
            ("read_file", {"path": "a.py"}),
            ("grep", {"pattern": "<tool_call|>", "paths": ["src", "tests"]}),
        ],
    ),
    Case(
        "gemma4",
        "The tests pass now: `pytest -q` reports 3 passed.\n\n```\n3 passed in 0.01s\n```",
        text="The tests pass now: `pytest -q` reports 3 passed.\n\n```\n3 passed in 0.01s\n```",
    ),
    Case(
        "gemma4",
        '<|tool_call>call:read_file{"path": "calc.py", "limit": 20}<tool_call|>',
        calls=[("read_file", {"path": "calc.py", "limit": 20})],
    ),
    Case(
        "gemma4",
        f"<|tool_call>call:read_file{{path:{Q}calc.py{Q}}}",
        calls=[("read_file", {"path": "calc.py"})],
    ),
    Case(
        "gemma4",
        f"<|tool_call>read_file{{path:{Q}calc.py{Q},}}}}<tool_call|>",
        calls=[("read_file", {"path": "calc.py"})],
    ),
    Case("gemma4", "<|tool_call>call:list_files<tool_call|>", calls=[("list_files", {})]),
    Case(
        "gemma4",
        f"<|tool_call>call:write_file{{path:{Q}a.py{Q},content:{Q}print(",
        errors=["write_file"],
    ),
    Case(
        "gemma4",
        '<|tool_call>read_file(path="a.py")<tool_call|>Done.',
        text="Done.",
        errors=["read_file"],
    ),
    Case(
        "gemma4", "<|tool_call>call:run_shell{command:pytest -q}<tool_call|>", errors=["run_shell"]
    ),
    Case(
        "gemma4",
        '<|tool_call>{"name": "grep", "arguments": {"pattern": "x"}}<tool_call|>',
        calls=[("grep", {"pattern": "x"})],
    ),
]

BROKEN_HERMES = [
    Case(
        "hermes",
        '<tool_call>\n{"name": "write_file", "arguments": {"path": "a.py", "content": "print(',
        errors=["write_file"],
    ),
    Case("hermes", '<tool_call>\nread_file("a.py")\n</tool_call>', errors=["read_file"]),
    Case(
        "hermes",
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}}\n</tool_call>',
        calls=[("read_file", {"path": "a.py"})],
    ),
    Case(
        "hermes",
        '```json\n{"name": "read_file", "arguments": {"path": "a.py",}}\n```',
        errors=["read_file"],
    ),
    Case("hermes", "<tool_call>\n</tool_call>", errors=["unknown"]),
]

CASES = QWEN + GEMMA + BROKEN_HERMES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.output[:40])
@pytest.mark.parametrize("sizes", ["whole", 1, "random"])
def test_outputs(case: Case, sizes) -> None:
    pieces = (
        [case.output] if sizes == "whole" else chunked(case.output, sizes, seed=len(case.output))
    )
    events = run(ToolCallParser(case.fmt, case.tool_names), pieces)
    text, reasoning, calls, errors, _ = summary(events)
    assert text == case.text
    assert reasoning == case.reasoning
    assert calls == case.calls
    assert errors == case.errors


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.output[:40])
def test_chunking_never_changes_events(case: Case) -> None:
    whole = summary(run(ToolCallParser(case.fmt, case.tool_names), [case.output]))
    for seed in range(5):
        pieces = chunked(case.output, "random", seed)
        events = run(ToolCallParser(case.fmt, case.tool_names), pieces)
        assert summary(events) == whole
        for event in events:
            if isinstance(event, TextDelta) and case.text == "":
                pytest.fail(f"unexpected text {event.text!r}")
            if isinstance(event, TextDelta):
                assert not any(m in event.text for m in MARKUP)


def test_parse_errors_tell_the_model_how_to_call() -> None:
    events = run(ToolCallParser("gemma4"), [f"<|tool_call>call:write_file{{path:{Q}a"])
    (call,) = [e.call for e in events]
    assert call.name == "write_file" and call.arguments == {}
    assert "<|tool_call>call:NAME{" in call.parse_error


def test_text_is_released_as_soon_as_it_cannot_be_markup() -> None:
    parser = ToolCallParser("gemma4", TOOLS)
    assert parser.feed("Hello") == [TextDelta(text="Hello")]
    assert parser.feed(" a <") == [TextDelta(text=" a ")]
    assert parser.feed(" b\n") == [TextDelta(text="< b\n")]
    assert parser.feed("``") == []  # may open a fence
    assert parser.feed("`python") == []  # the info string is not complete
    assert parser.feed("\nx = 1") == [TextDelta(text="```python\nx = 1")]
    assert parser.feed("\n```\n") == [TextDelta(text="\n```\n")]
    assert parser.finish() == []


def test_a_run_of_blanks_is_released_once_it_is_too_deep_for_a_fence() -> None:
    parser = ToolCallParser("hermes", TOOLS)
    assert parser.feed("Done.\n") == [TextDelta(text="Done.\n")]
    assert parser.feed("    ") == []  # may still be an indented fence
    blanks = [parser.feed(" ") for _ in range(2000)]  # a model running on in spaces
    assert "".join(e.text for events in blanks for e in events) == " " * 2000 + " " * 4
    assert all(events == [TextDelta(text=" ")] for events in blanks[13:])  # as they come
    assert parser.feed("```\n") == [TextDelta(text="```\n")]  # too deep to open a fence
    assert parser.finish() == []


def test_a_bare_fence_is_released_once_its_content_is_not_json() -> None:
    parser = ToolCallParser("hermes", TOOLS)
    assert parser.feed("```\n") == []
    assert parser.feed("$ ls") == [TextDelta(text="```\n$ ls")]


def test_backend_can_poll_the_start_of_a_call() -> None:
    parser = ToolCallParser("gemma4", TOOLS)
    assert parser.feed("Reading it.") == [TextDelta(text="Reading it.")]
    assert not parser.in_tool_call and parser.open_marker is None
    assert parser.feed("<|tool_call>") == []
    assert parser.in_tool_call and parser.open_marker == "<|tool_call>"
    assert parser.call_text == ""
    assert parser.feed("call:read_file{path:") == []
    assert parser.call_text == "call:read_file{path:"
    events = parser.feed(f"{Q}a.py{Q}}}<tool_call|>")
    assert [e.call.arguments for e in events] == [{"path": "a.py"}]
    assert not parser.in_tool_call


def test_hermes_open_marker() -> None:
    parser = ToolCallParser("hermes", TOOLS)
    parser.feed("<tool_")
    assert not parser.in_tool_call
    parser.feed("call>")
    assert parser.in_tool_call and parser.open_marker == "<tool_call>"


def test_long_call_streamed_token_by_token() -> None:
    content = "".join(f"line {i}: {{x}}, [y]\n" for i in range(2000))
    output = (
        f"<|tool_call>call:write_file{{content:{Q}{content}{Q},path:{Q}big.txt{Q}}}<tool_call|>"
    )
    events = run(ToolCallParser("gemma4", TOOLS), chunked(output, 3))
    assert [e.call.arguments for e in events] == [{"content": content, "path": "big.txt"}]


def test_long_code_block_streams_while_a_json_block_waits() -> None:
    parser = ToolCallParser("hermes", TOOLS)
    out = parser.feed("```json\n{\n")
    assert out == []  # may be a call: held until the fence closes
    out = parser.feed('"a": 1\n}\n```\n')
    assert summary(out)[0] == '```json\n{\n"a": 1\n}\n```\n'


def test_thinking_can_be_opened_by_the_prompt() -> None:
    parser = ToolCallParser("hermes", TOOLS, starts_in_reasoning=True)
    events = run(parser, chunked("Let me think.</think>The answer is 4.", 2))
    assert summary(events)[:2] == ("The answer is 4.", "Let me think.")


def test_stray_markers_are_dropped_and_parser_is_reusable() -> None:
    parser = ToolCallParser("gemma4", TOOLS)
    assert summary(run(parser, ["All done.<tool_call|>"]))[0] == "All done."
    events = run(parser, ['{"name": "read_file", "arguments": {"path": "a"}}'])  # bare JSON
    assert summary(events)[2] == [("read_file", {"path": "a"})]


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        ToolCallParser("xml")  # type: ignore[arg-type]


PIECES = list('ab <|>`{}[]"\n:,') + ["```", "```json\n", "```py\n", "\n```\n", '{"name": 1}']


@pytest.mark.parametrize("fmt", ["gemma4", "hermes", "plain"])
@pytest.mark.parametrize("names", [None, TOOLS])
def test_text_without_calls_comes_out_unchanged(fmt, names) -> None:
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        for sizes in (1, "random"):
            events = run(ToolCallParser(fmt, names), chunked(text, sizes, seed=len(text)))
            assert summary(events)[0] == text.lstrip()
            assert all(isinstance(e, TextDelta) for e in events)


# Qwen2.5-Coder 1.5B imitating its system prompt's <tools> block (seen in a real TUI run).
QWEN_XML = '<tools>\n  <function name="list_files" arguments=\'{"path": ".", "pattern": ""}\'/>\n</tools>'


def _xml_events(text: str, names=frozenset({"list_files", "read_file"})):
    whole = ToolCallParser("hermes", set(names))
    one = ToolCallParser("hermes", set(names))
    events_whole = whole.feed(text) + whole.finish()
    events_chars = [e for ch in text for e in one.feed(ch)] + one.finish()
    strip = lambda evs: [e.call.model_copy(update={"id": ""}) if e.type == "tool_call_parsed"  # noqa: E731
                         else e for e in evs]
    assert strip(events_whole) == strip(events_chars)
    return events_whole


def test_qwen_xml_imitation_becomes_a_call_and_never_shows_as_text():
    events = _xml_events(QWEN_XML)
    assert [e.type for e in events] == ["tool_call_parsed"]
    assert events[0].call.name == "list_files"
    assert events[0].call.arguments == {"path": ".", "pattern": ""}


def test_xml_like_text_that_is_not_a_known_call_stays_text():
    for text in ("<tools> are great for building things", "<function name=\"rm_rf\" arguments='{}'/>"):
        events = _xml_events(text)
        assert "".join(e.text for e in events) == text and all(e.type == "text_delta" for e in events)


def test_xml_call_with_broken_arguments_reports_a_parse_error():
    events = _xml_events('<function name="read_file" arguments=\'{"path": "a.py"\'/>')
    (event,) = events
    assert event.call.name == "read_file" and "not JSON" in event.call.parse_error
