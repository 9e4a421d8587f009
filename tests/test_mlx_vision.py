"""Images on the MLX backend through mlx-vlm, for real on Linux with `mlx[cpu]`.

The model is a tiny Gemma 4 vision-language directory with Gemma 4's real tokenizer and random
weights (test data, like the test PNGs; `fixtures/tiny_gemma4.py`), run by mlx-vlm's own
`gemma4` code. The reference for every answer is mlx-vlm's own `generate`, loaded separately,
from an empty cache.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gemma_code.agent.config import Settings
from gemma_code.agent.events import TextDelta, Usage
from gemma_code.agent.images import prepare_image
from gemma_code.agent.messages import AssistantMessage, ImagePart, TextPart, UserMessage
from gemma_code.agent.protocols import GenerationOptions

from .fixtures import tiny_gemma4

if not os.environ.get("CI"):
    pytest.importorskip("mlx_vlm", reason="mlx-vlm is not installed (pip install 'gemma-code[mlx]')")
pytestmark = pytest.mark.real_model

GREEDY = GenerationOptions(max_tokens=6, temperature=0.0)
IMAGE_TOKENS = 70  # the smallest budget the setting allows; the processor's own default is 280
BOI, EOI = 255999, 258882  # <|image> and <image|>


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_gemma4.build(tmp_path_factory.mktemp("gemma4") / "tiny-gemma4-vlm")


@pytest.fixture(scope="module")
def mlx(model_dir: Path):
    from gemma_code.backends.mlx_backend import MlxBackend

    backend = MlxBackend(model_dir, context_size=4096, image_tokens=IMAGE_TOKENS)
    yield backend
    backend.close()


def load_reference(model_dir: Path):
    """mlx-vlm's own model and processor, with the same image budget as the backend."""
    from mlx_vlm.utils import load

    model, processor = load(str(model_dir))
    processor.image_processor.max_soft_tokens = IMAGE_TOKENS
    return model, processor


@pytest.fixture(scope="module")
def reference(model_dir: Path):
    return load_reference(model_dir)


def picture(tmp_path: Path, seed: int, size: tuple[int, int] = (320, 240)) -> ImagePart:
    """A noise image, stored as the app stores images."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path = tmp_path / f"noise-{seed}.png"
    Image.fromarray(pixels).save(path)
    return prepare_image(path).part


def asking(text: str, image: ImagePart) -> UserMessage:
    return UserMessage(content=[TextPart(text=text), image])


def step(backend, messages, options=GREEDY) -> tuple[Usage, list[int], str]:
    """(usage, the answer's tokens with its end token, its text)."""
    events = list(backend.stream(messages, (), options))
    usage = events[-1]
    assert isinstance(usage, Usage)
    answer = backend.history.last.tokens[usage.prompt_tokens:]
    return usage, answer, "".join(e.text for e in events if isinstance(e, TextDelta))


def image_runs(tokens: list[int]) -> list[tuple[int, int, int]]:
    """(start, length, id) of each placeholder run."""
    runs: list[tuple[int, int, int]] = []
    for i, t in enumerate(tokens):
        if t < 0 and runs and runs[-1][0] + runs[-1][1] == i and runs[-1][2] == t:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, t)
        elif t < 0:
            runs.append((i, 1, t))
    return runs


def generate_from_tokens(reference, tokens: list[int], image: ImagePart,
                         max_tokens: int) -> list[int]:
    """mlx-vlm's generate on our token list (placeholders back to its image token), from an
    empty cache, with the image's pixels from its processor."""
    import mlx.core as mx
    from mlx_vlm import generate
    from PIL import Image

    model, processor = reference
    image_id = model.config.image_token_id
    with Image.open(image.path) as opened:
        inputs = processor(text=processor.image_token, images=[opened.convert("RGB")],
                           add_special_tokens=False)
    pixels = {k: inputs[k] for k in ("pixel_values", "image_position_ids") if k in inputs}
    result = generate(
        model, processor, "", input_ids=mx.array([image_id if t < 0 else t for t in tokens])[None],
        mm_token_type_ids=mx.array([[int(t < 0) for t in tokens]]),
        max_tokens=max_tokens, temperature=0.0, **pixels,
    )
    return result.token_ids


def test_a_gemma4_vision_directory_opens_with_mlx_vlm(mlx):
    assert mlx.vision and mlx.name == "mlx"
    assert mlx.images.marker == "<|image|>" and mlx.template.media_marker == "<|image|>"
    assert type(mlx.images.model).__module__ == "mlx_vlm.models.gemma4.gemma4"


def test_an_image_in_a_user_message_answers_as_mlx_vlm_does(mlx, reference, tmp_path):
    from mlx_vlm import generate
    from mlx_vlm.utils import prepare_inputs

    image = picture(tmp_path, 1, (640, 480))
    messages = [asking("What is in this picture?", image)]
    usage, answer, _ = step(mlx, messages)
    prompt = mlx.history.last.tokens[: usage.prompt_tokens]
    [(start, length, _)] = image_runs(prompt)
    assert prompt[start - 1] == BOI and prompt[start + length] == EOI
    assert 0 < length <= IMAGE_TOKENS

    model, processor = reference
    rendered = mlx.template.render(messages, (), True)
    expected = prepare_inputs(processor, images=[str(image.path)], prompts=rendered,
                              add_special_tokens=False)["input_ids"][0].tolist()
    assert [model.config.image_token_id if t < 0 else t for t in prompt] == expected
    result = generate(model, processor, rendered, image=[str(image.path)],
                      max_tokens=GREEDY.max_tokens, temperature=0.0)
    assert answer == result.token_ids and len(set(answer)) > 1


def test_the_next_step_reuses_the_cache_past_the_image(mlx, reference, tmp_path):
    image = picture(tmp_path, 2)
    first = [asking("Describe this screenshot.", image)]
    usage1, _, text = step(mlx, first)
    ident = image_runs(mlx.history.last.tokens)[0][2]
    features = mlx.images.spans[ident].features
    assert features is not None
    second = [*first, AssistantMessage(text=text), UserMessage.of("And the colours?")]
    usage2, answer, _ = step(mlx, second)
    assert usage2.cached_tokens >= usage1.prompt_tokens + usage1.completion_tokens
    assert usage2.prompt_tokens - usage2.cached_tokens < 20  # only the new text
    assert mlx.images.spans[ident].features is features  # encoded once
    prompt = mlx.history.last.tokens[: usage2.prompt_tokens]
    assert answer == generate_from_tokens(reference, prompt, image, GREEDY.max_tokens)


def test_an_image_after_cached_text_sees_itself_whole(mlx, reference, tmp_path):
    """The image is prefilled after a cached prefix, where mlx-vlm's own mask would leave its
    tokens causal; the answer must match a prefill of everything at once."""
    first = [UserMessage.of("Hello! I will send you a picture next.")]
    _, _, text = step(mlx, first)
    image = picture(tmp_path, 3)
    second = [*first, AssistantMessage(text=text), asking("Here it is. What do you see?", image)]
    usage, answer, _ = step(mlx, second)
    prompt = mlx.history.last.tokens[: usage.prompt_tokens]
    assert 0 < usage.cached_tokens < image_runs(prompt)[0][0]
    assert answer == generate_from_tokens(reference, prompt, image, GREEDY.max_tokens)


def test_two_images_are_two_spans_that_never_match_each_other(mlx, reference, tmp_path):
    first, second = picture(tmp_path, 4), picture(tmp_path, 5)  # same size, same span length
    step(mlx, [asking("What is this?", first)])
    one = mlx.history.last.tokens
    usage, answer, _ = step(mlx, [asking("What is this?", second)])
    two = mlx.history.last.tokens
    [(start1, length1, id1)], [(start2, length2, id2)] = image_runs(one), image_runs(two)
    assert (start1, length1) == (start2, length2) and id1 != id2
    assert usage.cached_tokens == start2  # reuse stops where the images differ
    prompt = two[: usage.prompt_tokens]
    assert answer == generate_from_tokens(reference, prompt, second, GREEDY.max_tokens)
    assert set(mlx.images.spans) == {id2}  # the first image is no longer in the conversation


def test_short_prefill_passes_never_cut_an_image(mlx, reference, tmp_path, monkeypatch):
    """With 16-token passes the text stops short of the image and the image (more than 16
    tokens) goes in a pass of its own."""
    from gemma_code.backends import mlx_backend

    monkeypatch.setattr(mlx_backend, "PREFILL_STEP", 16)
    image = picture(tmp_path, 8)
    messages = [asking("A longer question, so that a few passes of text come before the "
                       "image. What is this?", image)]
    usage, answer, _ = step(mlx, messages)
    prompt = mlx.history.last.tokens[: usage.prompt_tokens]
    assert image_runs(prompt)[0][1] > 16
    assert answer == generate_from_tokens(reference, prompt, image, GREEDY.max_tokens)


def test_cancel_before_the_prefill_leaves_the_session_usable(mlx, reference, tmp_path):
    image = picture(tmp_path, 6)
    cancel = threading.Event()
    cancel.set()
    messages = [asking("What is this?", image)]
    usage, _, _ = step(mlx, messages, GenerationOptions(max_tokens=6, temperature=0.0,
                                                        cancel=cancel))
    assert usage.finish_reason == "cancelled" and usage.completion_tokens == 0
    usage, answer, _ = step(mlx, messages)
    prompt = mlx.history.last.tokens[: usage.prompt_tokens]
    assert answer == generate_from_tokens(reference, prompt, image, GREEDY.max_tokens)


def test_the_12b_layout_gemma4_unified_past_a_window_shorter_than_the_image(tmp_path,
                                                                           tmp_path_factory):
    """Gemma 4 12B is a `gemma4_unified` model (image patches go straight into the language
    model) that slides a 1024-token window, and an image may take 1120 tokens. In miniature:
    a 32-token window, a prefix longer than it, then a 70-token image."""
    from gemma_code.backends.mlx_backend import MlxBackend

    model_dir = tiny_gemma4.build(tmp_path_factory.mktemp("gemma4") / "tiny-gemma4-unified",
                                  "gemma4_unified", sliding_window=32)
    backend = MlxBackend(model_dir, context_size=4096, image_tokens=IMAGE_TOKENS)
    reference = load_reference(model_dir)
    try:
        assert backend.vision
        first = [UserMessage.of("Tell me about the sea. " * 10)]
        _, _, text = step(backend, first)
        image = picture(tmp_path, 10)
        second = [*first, AssistantMessage(text=text), asking("What is this?", image)]
        usage, answer, _ = step(backend, second)
        prompt = backend.history.last.tokens[: usage.prompt_tokens]
        (start, length, _), = image_runs(prompt)
        assert 32 < usage.cached_tokens < start and 32 < length <= IMAGE_TOKENS
        assert answer == generate_from_tokens(reference, prompt, image, GREEDY.max_tokens)
        other = picture(tmp_path, 11)  # a new conversation: the rotating cache cannot rewind
        usage, answer, _ = step(backend, [asking("And this one?", other)])
        prompt = backend.history.last.tokens[: usage.prompt_tokens]
        assert answer == generate_from_tokens(reference, prompt, other, GREEDY.max_tokens)
    finally:
        backend.close()


def test_the_factory_opens_the_vision_directory(model_dir: Path):
    from gemma_code.agent.models import open_backend

    backend = open_backend(Settings(model=str(model_dir), backend="mlx", context_size=2048))
    try:
        assert backend.name == "mlx" and backend.vision
    finally:
        backend.close()


def test_a_directory_without_vision_config_loads_with_mlx_lm(tmp_path, tmp_path_factory):
    from gemma_code.backends.mlx_backend import MlxBackend

    text_only = tiny_gemma4.build(tmp_path_factory.mktemp("gemma4") / "tiny-gemma4-text",
                                  vision=False)
    backend = MlxBackend(text_only, context_size=2048)
    try:
        assert not backend.vision and backend.images is None
        assert type(backend.model).__module__.startswith("mlx_lm.")
        image = picture(tmp_path, 7)
        assert "<|image|>" not in backend.template.render([asking("What is this?", image)])
        usage, answer, _ = step(backend, [UserMessage.of("Say hello.")])
        assert usage.finish_reason in ("length", "stop") and answer
    finally:
        backend.close()


def test_a_gemma4_tool_call_is_forced_through_its_marker_tokens(mlx):
    """Gemma 4's markers and string quote are single special tokens: the grammar refers to
    those tokens (llguidance cannot take them as GBNF text), so the random-weight model,
    forced by it, writes a call in the native format that parses with typed arguments."""
    from gemma_code.agent.events import ToolCallParsed
    from gemma_code.agent.protocols import ToolSpec

    weather = ToolSpec(name="get_weather", description="Weather forecast", parameters={
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                         "days": {"type": "integer"}},
        "required": ["city", "days"], "additionalProperties": False,
    })
    mlx.cache, mlx.cached, mlx.history.last = mlx._new_cache(), [], None
    options = GenerationOptions(max_tokens=80, temperature=0.0, tool_choice="required")
    events = list(mlx.stream([UserMessage.of("Weather in Paris for 3 days?")], [weather], options))
    calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
    assert len(calls) == 1 and calls[0].parse_error is None, events
    assert calls[0].name == "get_weather"
    assert isinstance(calls[0].arguments["city"], str) and isinstance(calls[0].arguments["days"], int)
    assert events[-1].finish_reason == "tool_calls"
    # gemma-code's own tools compile too, both from the first token and after the open marker
    from gemma_code.tools import default_tools
    from gemma_code.tools.base import tool_spec

    specs = [tool_spec(tool) for tool in default_tools()]
    assert mlx.constraint(specs, required=True) and mlx.constraint(specs, required=False)
