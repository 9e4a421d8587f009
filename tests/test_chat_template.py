"""Prompts rendered with the models' own templates: Gemma 4 (vocabulary-only GGUF) and Qwen."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_code.agent.messages import (
    AssistantMessage, SystemMessage, TextPart, ToolCall, ToolMessage, UserMessage,
)
from gemma_code.agent.protocols import ToolSpec
from gemma_code.backends.chat_template import ChatTemplate, ChatTemplateError

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

GEMMA4_VOCAB = Path(__file__).parent / "fixtures" / "gemma4-vocab" / "ggml-vocab-gemma-4.gguf"
READ = ToolSpec("read_file", "Read a file.", {
    "type": "object", "properties": {"path": {"type": "string", "description": "file"}},
    "required": ["path"]})


def _vocab(path: Path):
    return llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)


@pytest.fixture(scope="module")
def gemma4():
    llm = _vocab(GEMMA4_VOCAB)
    piece = lambda t: llm.detokenize([t], special=True).decode()  # noqa: E731
    template = ChatTemplate(llm.metadata["tokenizer.chat_template"],
                            bos_token=piece(llm.token_bos()), eos_token=piece(llm.token_eos()))
    return llm, template


@pytest.fixture(scope="module")
def qwen():
    from gemma_code.backends.models.registry import get_spec, is_present, ensure_local

    spec = get_spec("qwen2.5-coder-1.5b")
    if not is_present(spec):
        pytest.skip("the bundled qwen2.5-coder-1.5b packages are not installed")
    llm = _vocab(ensure_local(spec))
    return llm, ChatTemplate(llm.metadata["tokenizer.chat_template"])


def conversation() -> list:
    call = ToolCall(id="call_1", name="read_file", arguments={"path": "a.py"})
    return [
        SystemMessage(content="You are a coding agent."),
        UserMessage.of("What is in a.py?"),
        AssistantMessage(text="", tool_calls=(call,)),
        ToolMessage(call_id="call_1", name="read_file",
                    content=(TextPart(text="     1\tprint('hi')"),)),
        AssistantMessage(text="It prints hi."),
        UserMessage.of("Thanks"),
    ]


def test_gemma4_renders_native_tool_calls_and_results(gemma4):
    llm, template = gemma4
    text = template.render(conversation(), [READ], True)
    assert text.startswith("<bos><|turn>system\nYou are a coding agent.<|tool>declaration:read_file")
    assert '<|tool_call>call:read_file{path:<|"|>a.py<|"|>}<tool_call|>' in text
    assert "<|tool_response>response:read_file{output:<|\"|>     1\tprint('hi')<|\"|>}" in text
    assert text.endswith("<|turn>user\nThanks<turn|>\n<|turn>model\n<|channel>thought\n<channel|>")
    tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
    assert tokens[0] == llm.token_bos()
    assert tokens.count(48) == 1 and tokens.count(49) == 1  # <|tool_call>, <tool_call|>
    assert 105 in tokens  # <|turn>


def test_qwen_renders_hermes_tool_calls_and_groups_results(qwen):
    _, template = qwen
    text = template.render(conversation(), [READ], True)
    assert '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>' in text
    assert "<|im_start|>user\n<tool_response>\n     1\tprint('hi')\n</tool_response><|im_end|>" in text
    assert '<tools>\n{"function": {"description": "Read a file.", "name": "read_file"' in text
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("which", ["gemma4", "qwen"])
def test_templates_are_prefix_stable_at_assistant_boundaries(which, request):
    """The append-only history relies on this: earlier turns render the same later on."""
    _, template = request.getfixturevalue(which)
    messages = conversation()
    for end in (3, 5):  # just after each assistant message
        assert messages[end - 1].role == "assistant"
        earlier = template.render(messages[:end], [READ], False)
        later = template.render(messages, [READ], True)
        assert later.startswith(earlier)


def test_template_errors_are_clear():
    with pytest.raises(ChatTemplateError, match="does not compile"):
        ChatTemplate("{% for %}")
    refusing = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        refusing.render([UserMessage.of("hi")])


def image_conversation(tmp_path: Path) -> list:
    from gemma_code.agent.messages import ImagePart

    shot, page = tmp_path / "shot.png", tmp_path / "page.png"
    call = ToolCall(id="call_1", name="screenshot", arguments={"target": "index.html"})
    return [
        SystemMessage(content="You are a coding agent."),
        UserMessage.of("Why does this fail?", (ImagePart(path=shot),)),
        AssistantMessage(text="", tool_calls=(call,)),
        ToolMessage(call_id="call_1", name="screenshot",
                    content=(TextPart(text="screenshot of index.html"), ImagePart(path=page))),
    ]


@pytest.mark.parametrize("which", ["gemma4", "qwen"])
def test_images_render_as_the_vision_marker_in_order(which, request, tmp_path: Path):
    from gemma_code.backends.image_spans import last_images

    llm, plain = request.getfixturevalue(which)
    template = ChatTemplate(plain.source, plain.bos_token, plain.eos_token, media_marker="<__media__>")
    messages = image_conversation(tmp_path)
    text = template.render(messages, [READ], True)
    assert text.count("<__media__>") == 2
    # the user's image comes before the user's words; the tool's image follows its result
    assert text.index("<__media__>") < text.index("Why does this fail?")
    assert text.index("screenshot of index.html") < text.index("(the image from screenshot:)\n<__media__>")
    # a suffix of the conversation holds its last images: those are the ones encoded
    suffix = text[text.index("screenshot of index.html"):]
    assert [p.path.name for p in last_images(messages, suffix.count("<__media__>"))] == ["page.png"]
    assert [p.path.name for p in last_images(messages, 2)] == ["shot.png", "page.png"]
    assert last_images(messages, 0) == []
    # a model without vision (after /model, say) reads a note where each image was
    blind = plain.render(messages, [READ], True)
    assert "<__media__>" not in blind
    assert "[an image (shot.png) that this model cannot see]" in blind
    assert "[an image (page.png) that this model cannot see]" in blind
