"""The llama.cpp backend on real models: Gemma 3 270M for the mechanics, Qwen2.5-Coder for a task.

These run in CI (the README's install builds llama-cpp-python and installs both models).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gemma_code.agent.events import TextDelta, ToolCallParsed, TurnDone, Usage
from gemma_code.agent.messages import AssistantMessage, ImagePart, SystemMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolSpec
from gemma_code.backends.models.registry import ensure_local, get_spec

from .conftest import TRACEBACK, run_cli, text_png

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
pytestmark = pytest.mark.real_model


def _backend(name: str, context_size: int):
    from gemma_code.backends.llama_cpp import LlamaCppBackend

    spec = get_spec(name)
    return LlamaCppBackend(
        ensure_local(spec), context_size=context_size, sampling=spec.sampling,
        chat_format=spec.chat_format, n_threads=2,
    )


@pytest.fixture(scope="module")
def gemma270m():
    backend = _backend("gemma-3-270m", 2048)
    yield backend
    backend.close()


def _step(backend, messages, options=GenerationOptions(max_tokens=24), tools=()):
    events = list(backend.stream(messages, tools, options))
    usage = events[-1]
    assert isinstance(usage, Usage) and sum(isinstance(e, Usage) for e in events) == 1
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return events, text, usage


def test_streams_text_in_pieces_and_stops_at_max_tokens(gemma270m):
    messages = [UserMessage.of("Write a short story about a robot who learns to paint.")]
    events, text, usage = _step(gemma270m, messages, GenerationOptions(max_tokens=12))
    assert sum(isinstance(e, TextDelta) for e in events) >= 3
    assert text.strip()
    assert usage.completion_tokens == 12 and usage.finish_reason == "length"
    rendered = gemma270m.template.render(messages, (), True)
    assert usage.prompt_tokens == len(gemma270m.tokenize(rendered))
    assert usage.decode_seconds > 0 and usage.prefill_seconds > 0


def test_each_step_prefills_only_what_is_new(gemma270m):
    messages = [SystemMessage(content="You tell stories."), UserMessage.of("Tell me about the sea.")]
    _, text1, first = _step(gemma270m, messages)
    messages += [AssistantMessage(text=text1), UserMessage.of("And the mountains?")]
    _, text2, second = _step(gemma270m, messages)
    # Everything up to the first step's last sampled token was in the KV cache already.
    assert second.cached_tokens == first.prompt_tokens + first.completion_tokens - 1
    assert second.prompt_tokens - second.cached_tokens < 30
    messages += [AssistantMessage(text=text2), UserMessage.of("Thanks.")]
    _, _, third = _step(gemma270m, messages)
    assert third.cached_tokens == second.prompt_tokens + second.completion_tokens - 1


def test_a_rewritten_history_falls_back_to_the_longest_common_prefix(gemma270m):
    system = SystemMessage(content="You answer briefly.")
    _step(gemma270m, [system, UserMessage.of("What is a lighthouse?")])
    # A different conversation that shares only the system turn (a /clear, say).
    _, _, usage = _step(gemma270m, [system, UserMessage.of("What is a harbour?")])
    assert 0 < usage.cached_tokens < usage.prompt_tokens


def test_cancel_mid_generation_leaves_the_session_usable(gemma270m):
    cancel = threading.Event()
    options = GenerationOptions(max_tokens=64, cancel=cancel)
    messages = [UserMessage.of("Count from one to one hundred in words.")]
    seen = []
    for event in gemma270m.stream(messages, (), options):
        seen.append(event)
        if sum(isinstance(e, TextDelta) for e in seen) == 3:
            cancel.set()
    usage = seen[-1]
    assert usage.finish_reason == "cancelled" and usage.completion_tokens < 10
    text = "".join(e.text for e in seen if isinstance(e, TextDelta))
    messages += [AssistantMessage(text=text), UserMessage.of("Go on.")]
    _, more, after = _step(gemma270m, messages)
    assert more and after.finish_reason == "length"
    assert after.cached_tokens >= usage.prompt_tokens


def test_context_full_is_an_event_not_a_crash():
    from gemma_code.agent.loop import Agent, run_turn
    from gemma_code.agent.approval import DenyApprover
    from gemma_code.agent.protocols import ToolContext
    from gemma_code.agent.registry import ToolRegistry
    from gemma_code.agent.workspace import LocalWorkspace

    backend = _backend("gemma-3-270m", 512)
    try:
        long_text = "the quick brown fox jumps over the lazy dog " * 80
        _, _, usage = _step(backend, [UserMessage.of(long_text)])
        assert usage.finish_reason == "context_full" and usage.completion_tokens == 0
        agent = Agent(backend, ToolRegistry([], "auto", DenyApprover()),
                      ToolContext(LocalWorkspace(Path.cwd())), GenerationOptions())
        events = list(run_turn(agent, UserMessage.of(long_text)))
        assert events[-1] == TurnDone(reason="context_full", steps=1)
    finally:
        backend.close()


WEATHER = ToolSpec(
    name="get_weather", description="Weather for a city.",
    parameters={"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city", "days"]},
)


def test_required_tool_call_is_grammar_constrained_even_on_a_base_model(gemma270m):
    options = GenerationOptions(max_tokens=80, tool_choice="required")
    events, _, usage = _step(gemma270m, [UserMessage.of("Weather in Paris for 3 days?")],
                             options, tools=[WEATHER])
    calls = [e.call for e in events if isinstance(e, ToolCallParsed)]
    assert len(calls) == 1 and calls[0].parse_error is None
    assert calls[0].name == "get_weather"
    assert isinstance(calls[0].arguments["city"], str)
    assert isinstance(calls[0].arguments["days"], int)
    assert usage.finish_reason == "tool_calls"


def test_qwen_creates_and_runs_a_file_headless(tmp_path: Path, isolated_env):
    workdir = tmp_path / "work"
    workdir.mkdir()
    proc = run_cli(
        ["run", "--model", "qwen2.5-coder-1.5b", "--approval", "auto", "--temperature", "0",
         "--max-steps", "8",
         "create hello.py with a function greet(name) that returns 'hello ' + name, "
         "and make the script print greet('world'); then run it"],
        workdir, isolated_env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "hello.py").is_file(), proc.stdout
    ran = subprocess.run([sys.executable, "hello.py"], cwd=workdir, capture_output=True,
                         text=True, timeout=30)
    assert ran.returncode == 0 and "hello world" in ran.stdout
    assert "→ write_file(" in proc.stdout and "→ run_shell(" in proc.stdout


def test_a_damaged_image_fails_before_the_model_loads(tmp_path: Path, isolated_env):
    image = tmp_path / "shot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    proc = run_cli(["run", "--model", "gemma-3-270m", "--image", str(image), "what is this?"],
                   tmp_path, isolated_env, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "gemma-code: error: --image: shot.png is not an image gemma-code can read "
        "(PNG, JPEG, WebP, GIF or BMP)"
    )


def test_an_unusable_projector_leaves_the_model_reading_images_with_ocr(tmp_path: Path, isolated_env):
    model = ensure_local(get_spec("gemma-3-270m"))
    projector = tmp_path / "mmproj-broken.gguf"
    with model.open("rb") as src:
        projector.write_bytes(src.read(3_000_000))  # a GGUF, but no image projector
    shot = text_png(tmp_path / "tb.png", TRACEBACK)
    proc = run_cli(["run", "--model", str(model), "--mmproj", str(projector), "--max-tokens", "16",
                    "--image", str(shot), "What error is shown?"], tmp_path, isolated_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "could not load the image projector" in proc.stderr
    assert "images are read with OCR instead" in proc.stderr
    assert "tb.png (" in proc.stderr and "read with OCR: 6 lines" in proc.stderr


def test_the_image_budget_sizes_the_batch_so_an_image_is_never_split(tmp_path: Path):
    from gemma_code.backends.llama_cpp import LlamaCppBackend

    projector = tmp_path / "mmproj.gguf"
    projector.write_bytes(b"GGUF" + b"\x00" * 64)
    backend = LlamaCppBackend(ensure_local(get_spec("gemma-3-270m")), context_size=2048,
                              chat_format="gemma3", n_threads=2, mmproj=projector,
                              image_tokens=1120)
    try:
        assert backend.llm.n_batch == 1120 and backend.llm.context_params.n_ubatch == 1120
        assert backend.vision is False and "image projector" in backend.vision_error
        assert backend.template.media_marker is None
    finally:
        backend.close()


def test_a_text_only_model_reads_a_note_where_an_image_was(gemma270m, tmp_path: Path):
    image = ImagePart(path=text_png(tmp_path / "tb.png", TRACEBACK))
    messages = [UserMessage.of("What does the screenshot show?", (image,))]
    _, _, usage = _step(gemma270m, messages, GenerationOptions(max_tokens=4))
    rendered = gemma270m.template.render(messages, (), True)
    assert "[an image (tb.png) that this model cannot see]" in rendered
    assert usage.prompt_tokens == len(gemma270m.tokenize(rendered))


def test_a_broken_gguf_fails_with_llama_cpps_reason_and_no_log_noise(tmp_path: Path, isolated_env):
    good = ensure_local(get_spec("gemma-3-270m"))
    broken = tmp_path / "broken.gguf"
    with good.open("rb") as src:
        broken.write_bytes(src.read(2_000_000))  # a download cut short
    proc = run_cli(["run", "--model", str(broken), "hi"], tmp_path, isolated_env, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not load" in lines[0] and "complete GGUF" in lines[0]


def test_the_step_temperature_overrides_the_model_default(gemma270m):
    messages = [UserMessage.of("Name a colour.")]
    hot = GenerationOptions(max_tokens=16, temperature=5.0)
    gemma270m.llm.set_seed(1)
    first = _step(gemma270m, messages, hot)[1]
    gemma270m.llm.set_seed(2)
    second = _step(gemma270m, messages, hot)[1]
    greedy = [_step(gemma270m, messages, GenerationOptions(max_tokens=16))[1] for _ in range(2)]
    assert greedy[0] == greedy[1]  # the registry default for this model is greedy
    assert first != second  # a hot step temperature is really used


def test_models_load_outside_the_amx_buffers_that_crash_llama_cpp():
    """On CPUs with AMX, llama.cpp's AMX kernels crash on Q4_K weights (llama.cpp issue 20824):
    every load goes through `amx_safe_loading`, which keeps weights out of them there only."""
    from gemma_code.backends.llama_cpp import amx_safe_loading, uses_amx

    native = llama_cpp.llama_cpp
    assert native.llama_model_default_params().use_extra_bufts
    with amx_safe_loading():
        assert native.llama_model_default_params().use_extra_bufts is not uses_amx()
    assert native.llama_model_default_params().use_extra_bufts  # put back
    # a Q4_K model computes, in a child process so that a crash fails this test, not the run
    path = ensure_local(get_spec("gemma-3-270m"))
    code = ("from gemma_code.backends.llama_cpp import new_llama\n"
            f"llm = new_llama(model_path={str(path)!r}, n_ctx=256, n_threads=2, verbose=False)\n"
            "print(llm.create_completion('Hello', max_tokens=2, temperature=0)['usage'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode} (AMX in use: {uses_amx()}): {done.stderr[-2000:]}"
    assert "'completion_tokens': 2" in done.stdout


def test_qwen_fixes_a_one_line_bug_with_a_well_formed_edit(repo: Path, isolated_env):
    """The bundled model at temperature 0, under the edit guards, ends with an edit that applied."""
    import json

    proc = run_cli(
        ["run", "--model", "qwen2.5-coder-1.5b", "--approval", "auto", "--temperature", "0",
         "--max-steps", "5", "--max-tokens", "200", "--no-verify", "--json",
         "calc.py has a bug: add(2, 3) should be 5. Fix it."],
        repo, isolated_env, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    edits = [e for e in events if e["type"] == "tool_result"
             and e["name"] in ("edit_file", "write_file") and not e["is_error"]]
    assert edits, proc.stdout[-3000:]
    assert (repo / "calc.py").read_text() != "def add(a, b):\n    return a - b\n"
    compile((repo / "calc.py").read_text(), "calc.py", "exec")  # still Python


def test_a_step_sampled_again_reuses_its_prompt_and_drops_the_first_output(gemma270m):
    """The loop's retry of a repeating step: the discarded step never enters the history."""
    messages = [UserMessage.of("List three colours.")]
    _, first, usage1 = _step(gemma270m, messages, GenerationOptions(max_tokens=8, temperature=0.0))
    prompt = list(gemma270m.history.last.prompt)
    _, again, usage2 = _step(gemma270m, messages, GenerationOptions(max_tokens=8, temperature=1.5))
    assert usage2.prompt_tokens == usage1.prompt_tokens == len(prompt)
    # the whole prompt came from the cache; its last token is evaluated again for its logits
    # (the cache went on past it with the first output)
    assert usage2.cached_tokens == len(prompt) - 1
    history = gemma270m.history.last
    assert history.tokens[: len(prompt)] == prompt and history.streamed_text == again
    assert len(history.tokens) <= len(prompt) + 8 + 1


def test_repeating_is_a_tail_of_one_block_over_and_over():
    from gemma_code.backends.generation_step import RUNAWAY_PERIOD, RUNAWAY_SPAN, repeating

    prose = list(range(1000, 1400))
    assert not repeating(prose)
    assert repeating(prose + [7, 8, 9] * 90)  # 270 tokens of one 3-token block
    assert not repeating(prose + [7, 8, 9] * 80)  # 240: not yet long enough
    assert not repeating([7, 8, 9] * 90 + [1])  # the tail has moved on
    block = list(range(RUNAWAY_PERIOD))
    assert repeating(prose + block * 8) and not repeating(prose + block * 7)
    assert not repeating(prose + list(range(RUNAWAY_PERIOD + 1)) * 9)  # too long a block
    assert not repeating([5] * (RUNAWAY_SPAN - 1)) and repeating([5] * RUNAWAY_SPAN)


def test_a_step_that_repeats_itself_is_cut_and_its_call_marked(gemma270m):
    # The base model continues a pattern for ever: prose, then a call whose string loops.
    loop = "tick tock " * 40
    events, text, usage = _step(gemma270m, [UserMessage.of(f"Say it again: {loop}")],
                                GenerationOptions(max_tokens=1500, temperature=0))
    assert usage.finish_reason == "length" and usage.completion_tokens < 400, usage
    write = ToolSpec(name="write_file", description="Write a file.", parameters={
        "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"]})
    events, _, usage = _step(gemma270m, [UserMessage.of(f"Save this to a.txt: {loop * 5}")],
                             GenerationOptions(max_tokens=1500, temperature=0,
                                               tool_choice="required"), (write,))
    call, = [e.call for e in events if isinstance(e, ToolCallParsed)]
    assert usage.finish_reason == "length" and usage.completion_tokens < 400, usage
    assert call.parse_error and "over and over" in call.parse_error
