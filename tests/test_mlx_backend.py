"""The MLX backend for real on Linux with `mlx[cpu]`: Gemma 3 270M converted from its GGUF.

Generations stay short: MLX on two CPU cores decodes this model at a few tokens a second.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gemma_code.agent.config import Settings
from gemma_code.agent.events import TextDelta, ToolCallParsed, Usage
from gemma_code.agent.messages import AssistantMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolSpec

if not os.environ.get("CI"):
    pytest.importorskip("mlx_lm", reason="mlx-lm is not installed (pip install 'gemma-code[mlx]')")
pytestmark = pytest.mark.real_model

GREEDY = GenerationOptions(max_tokens=6, temperature=0.0)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """Gemma 3 270M as an mlx-lm directory, converted once into the model cache and reused."""
    from gemma_code.backends.models.mlx_convert import convert_gguf
    from gemma_code.backends.models.registry import ensure_local, get_spec, models_cache_dir

    return convert_gguf(ensure_local(get_spec("gemma-3-270m")),
                        models_cache_dir() / "mlx" / "gemma-3-270m", chat_format="gemma3")


@pytest.fixture(scope="module")
def mlx(model_dir: Path):
    from gemma_code.backends.mlx_backend import MlxBackend

    backend = MlxBackend(model_dir, context_size=4096, chat_format="gemma3")
    yield backend
    backend.close()


def _step(backend, messages, options=GREEDY) -> tuple[str, Usage, list]:
    events = list(backend.stream(messages, (), options))
    usage = events[-1]
    assert isinstance(usage, Usage) and sum(isinstance(e, Usage) for e in events) == 1
    return "".join(e.text for e in events if isinstance(e, TextDelta)), usage, events


def test_streams_text_and_stops_at_max_tokens(mlx):
    messages = [UserMessage.of("Write a short story about a robot who learns to paint.")]
    text, usage, events = _step(mlx, messages)
    assert sum(isinstance(e, TextDelta) for e in events) >= 3 and text.strip()
    assert usage.completion_tokens == 6 and usage.finish_reason == "length"
    assert usage.prompt_tokens == len(mlx.tokenize(mlx.template.render(messages, (), True)))
    assert usage.prefill_seconds > 0 and usage.decode_seconds > 0


def test_each_step_prefills_only_what_is_new(mlx):
    messages = [UserMessage.of("List three colours.")]
    text, first, _ = _step(mlx, messages)
    messages += [AssistantMessage(text=text), UserMessage.of("And three animals?")]
    _, second, _ = _step(mlx, messages)
    assert second.cached_tokens >= first.prompt_tokens + first.completion_tokens
    assert second.prompt_tokens - second.cached_tokens < 20


def test_a_new_conversation_after_a_long_one_matches_a_fresh_model(mlx, model_dir: Path):
    """Rewinding past Gemma's sliding window cannot trim the cache: it must not go stale."""
    from gemma_code.backends.mlx_backend import MlxBackend

    long = [UserMessage.of("Tell me about the sea. " * 120)]  # longer than the 512-token window
    _step(mlx, long)
    short = [UserMessage.of("Name a fruit.")]
    reused_text, usage, _ = _step(mlx, short)
    fresh = MlxBackend(model_dir, context_size=4096, chat_format="gemma3")
    try:
        fresh_text, _, _ = _step(fresh, short)
    finally:
        fresh.close()
    assert reused_text == fresh_text
    assert usage.cached_tokens < usage.prompt_tokens


def test_cancel_mid_generation_leaves_the_session_usable(mlx):
    cancel = threading.Event()
    options = GenerationOptions(max_tokens=64, temperature=0.0, cancel=cancel)
    got = []
    for event in mlx.stream([UserMessage.of("Count from one to fifty in words.")], (), options):
        got.append(event)
        if isinstance(event, TextDelta) and len(got) >= 3:
            cancel.set()
    usage = got[-1]
    assert isinstance(usage, Usage) and usage.finish_reason == "cancelled"
    assert usage.completion_tokens < 64
    _, after, _ = _step(mlx, [UserMessage.of("Say hello.")])
    assert after.finish_reason == "length"


def test_a_prompt_that_fills_the_context_is_an_event(model_dir: Path):
    from gemma_code.backends.mlx_backend import MlxBackend

    small = MlxBackend(model_dir, context_size=64, chat_format="gemma3")
    try:
        _, usage, _ = _step(small, [UserMessage.of("word " * 100)])
    finally:
        small.close()
    assert usage.finish_reason == "context_full" and usage.completion_tokens == 0


def test_the_factory_opens_an_mlx_directory(model_dir: Path):
    from gemma_code.agent.models import open_backend

    backend = open_backend(Settings(model=str(model_dir), backend="mlx", context_size=2048))
    try:
        assert backend.name == "mlx" and backend.context_size == 2048 and not backend.vision
    finally:
        backend.close()


WEATHER = ToolSpec("get_weather", "Weather forecast for a city.", {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20},
                   "days": {"type": "integer"}},
    "required": ["city", "days"], "additionalProperties": False,
})


def test_a_required_tool_call_is_grammar_constrained_even_on_a_base_model(mlx):
    options = GenerationOptions(max_tokens=60, temperature=0.0, tool_choice="required")
    events = list(mlx.stream([UserMessage.of("Weather in Paris for 3 days?")], [WEATHER], options))
    calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
    assert len(calls) == 1 and calls[0].parse_error is None, events
    assert calls[0].name == "get_weather"
    assert isinstance(calls[0].arguments["city"], str)
    assert isinstance(calls[0].arguments["days"], int)
    assert events[-1].finish_reason == "tool_calls"


def test_an_agent_turn_on_mlx_runs_real_tools(mlx, repo: Path):
    """The loop, the registry and the real tools over MLX: the base model's calls are forced
    by the grammar (it cannot choose on its own), so each step calls one tool for real."""
    from gemma_code.agent.approval import DenyApprover
    from gemma_code.agent.events import ToolFinished, TurnDone
    from gemma_code.agent.loop import Agent, run_turn
    from gemma_code.agent.protocols import ToolContext
    from gemma_code.agent.registry import ToolRegistry
    from gemma_code.agent.workspace import LocalWorkspace
    from gemma_code.tools import default_tools

    tools = [t for t in default_tools() if t.name in ("read_file", "list_files")]
    mlx.cache, mlx.cached, mlx.history.last = mlx._new_cache(), [], None
    agent = Agent(
        backend=mlx, tools=ToolRegistry(tools, "read-only", DenyApprover()),
        ctx=ToolContext(LocalWorkspace(repo)),
        options=GenerationOptions(max_tokens=40, temperature=0.0, tool_choice="required"),
        max_steps=2,
    )
    events = list(run_turn(agent, UserMessage.of("What files are in this project?")))
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert len(finished) == 2 and {e.name for e in finished} <= {"read_file", "list_files"}
    assert events[-1] == TurnDone(reason="max_steps", steps=2)
    usages = [e for e in events if isinstance(e, Usage)]
    assert usages[1].cached_tokens >= usages[0].prompt_tokens  # step 2 continued the cache


def test_a_json_fence_engages_the_tool_grammar(mlx):
    """A call a small model opens in a ```json fence is constrained from its tool's name on."""
    import mlx.core as mx

    specs = [ToolSpec("read_file", "Read a file.", {
        "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})]
    constraint = mlx.constraint(specs, False)
    width = constraint.lltok.vocab_size
    data = constraint(mx.array([0, *mlx.tokenize('```json\n{"version": 2')]), mx.zeros((1, width)))
    assert not constraint.active and mx.isfinite(data).all().item()  # data, not a call: free
    constraint = mlx.constraint(specs, False)
    opened = constraint(mx.array([0, *mlx.tokenize('```json\n{"name": "read')]), mx.zeros((1, width)))
    assert constraint.active
    allowed = mx.isfinite(opened[0])
    assert allowed[mlx.tokenize('_file"')[0]].item() and not allowed[mlx.tokenize("x")[0]].item()
