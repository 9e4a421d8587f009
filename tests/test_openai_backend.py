"""The openai backend against real servers on 127.0.0.1: a stand-in that streams what each test
scripts (tool calls in pieces, failures on purpose), and llama-cpp-python's own
OpenAI-compatible server with the bundled models."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from gemma_code.agent.events import ReasoningDelta, TextDelta, ToolCallParsed, Usage
from gemma_code.agent.messages import AssistantMessage, ImagePart, ToolCall, ToolMessage, UserMessage
from gemma_code.agent.protocols import GenerationOptions, ToolSpec
from gemma_code.backends.models.spec import ModelError
from gemma_code.backends.openai_backend import (
    OpenAIBackend, ServerError, connect, make_client, resolve_base_url,
)

from .conftest import run_cli, text_png
from .sse_standin import Reply, StreamingStandIn, chunk

READ_FILE = ToolSpec("read_file", "Read a file.", {
    "type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})
HELLO = [UserMessage.of("say hello")]


def _step(backend, messages=HELLO, tools=(READ_FILE,), options=GenerationOptions(max_tokens=32)):
    events = list(backend.stream(messages, tools, options))
    usage = events[-1]
    assert isinstance(usage, Usage) and sum(isinstance(e, Usage) for e in events) == 1
    return events, usage


def _backend(server: StreamingStandIn, **kwargs) -> OpenAIBackend:
    return connect(server.url, "auto", None, None, **kwargs)


def _calls(events) -> list[ToolCall]:
    return [e.call for e in events if isinstance(e, ToolCallParsed)]


def test_a_native_call_streamed_in_pieces_arrives_whole_with_the_cached_tokens():
    pieces = [
        chunk(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "read_file", "arguments": ""}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"pa'}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": 'th": "a.py"}'}}]),
        chunk(finish="tool_calls"),
        chunk(usage={"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129,
                     "prompt_tokens_details": {"cached_tokens": 96}}),
    ]
    with StreamingStandIn([Reply(pieces)]) as server:
        backend = _backend(server)
        events, usage = _step(backend)
        request = server.requests[0]
    assert _calls(events) == [ToolCall(id="call_1", name="read_file", arguments={"path": "a.py"})]
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) == (120, 96, 9)
    assert usage.finish_reason == "tool_calls" and usage.context_size == 4096  # the server's size
    assert request["stream"] and request["tools"][0]["function"]["name"] == "read_file"
    assert request["model"] == "stand-in-model"


def test_a_call_written_as_text_is_parsed_not_shown():
    text = ['Reading it.\n<tool_call>\n{"name": "read_', 'file", "arguments": {"path": "b.py"}}',
            "\n</tool_call>"]
    with StreamingStandIn([Reply([*map(chunk, text), chunk(finish="stop")])]) as server:
        events, usage = _step(_backend(server))
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown.strip() == "Reading it." and "tool_call" not in shown
    assert [(c.name, c.arguments) for c in _calls(events)] == [("read_file", {"path": "b.py"})]
    assert usage.finish_reason == "tool_calls"


def test_figures_the_server_does_not_report_are_none_not_zero():
    with StreamingStandIn([Reply([chunk("hi"), chunk(finish="stop")])]) as server:
        events, usage = _step(_backend(server))
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) == (None, None, None)
    assert usage.decode_tokens_per_second == 0.0 and usage.finish_reason == "stop"


def test_reasoning_fields_stream_as_reasoning():
    reasoning = chunk()
    reasoning["choices"][0]["delta"]["reasoning_content"] = "think first"
    with StreamingStandIn([Reply([reasoning, chunk("answer"), chunk(finish="stop")])]) as server:
        events, _ = _step(_backend(server))
    assert [e.text for e in events if isinstance(e, ReasoningDelta)] == ["think first"]


def test_history_and_images_go_out_in_the_chat_dialect(tmp_path: Path):
    image = text_png(tmp_path / "shot.png", "x")
    call = ToolCall(id="call_9", name="read_file", arguments={"path": "a.py"})
    messages = [UserMessage.of("look", (ImagePart(path=image),)),
                AssistantMessage(tool_calls=(call,)),
                ToolMessage(call_id="call_9", name="read_file", content=())]
    with StreamingStandIn([Reply([chunk("ok", finish="stop")])]) as server:
        _step(_backend(server), messages)
        _step(OpenAIBackend(make_client(server.url, None), "m", vision=True), messages)
    text_only, vision = (r["messages"] for r in server.requests)
    assert "image" in text_only[0]["content"] and isinstance(text_only[0]["content"], str)
    assert vision[0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert vision[1]["tool_calls"][0]["function"] == {"name": "read_file",
                                                      "arguments": '{"path": "a.py"}'}
    assert vision[2] == {"role": "tool", "tool_call_id": "call_9", "content": "(no output)"}


def test_a_busy_server_is_tried_again_after_its_retry_after():
    busy = Reply(status=429, headers={"Retry-After": "0"},
                 body={"error": {"message": "too many requests"}})
    with StreamingStandIn([busy, Reply([chunk("fine"), chunk(finish="stop")])]) as server:
        events, _ = _step(_backend(server))
        assert len(server.requests) == 2
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "fine"


def test_a_server_that_stays_unavailable_is_one_sentence_after_bounded_tries():
    down = Reply(status=503, headers={"Retry-After": "0"}, body={"error": {"message": "overloaded"}})
    with StreamingStandIn([down]) as server:
        backend = _backend(server)
        with pytest.raises(ServerError) as failure:
            _step(backend)
        assert len(server.requests) == 3
    assert "busy after 3 tries" in str(failure.value) and "\n" not in str(failure.value)


@pytest.mark.parametrize(("status", "words"), [(401, "refused the API key"), (404, "has no model")])
def test_refusals_say_why_in_one_line(status, words):
    with StreamingStandIn([Reply(status=status, body={"error": {"message": "no"}})]) as server:
        with pytest.raises(ServerError, match=words):
            _step(_backend(server))


@pytest.mark.parametrize("broken", [
    Reply([chunk(tool_calls=[{"index": 0, "id": "c", "function": {"name": "read_file",
                                                                   "arguments": '{"pa'}}])], cut=True),
    Reply([chunk("Hel"), "data: {not json"]),
], ids=["cut-mid-call", "malformed-event"])
def test_a_broken_stream_is_one_sentence_and_the_next_step_works(broken):
    with StreamingStandIn([broken, Reply([chunk("again"), chunk(finish="stop")])]) as server:
        backend = _backend(server)
        with pytest.raises(ServerError, match="broke off|model server"):
            _step(backend)
        events, usage = _step(backend)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "again"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_server_not_running_is_one_sentence():
    with pytest.raises(ModelError, match="cannot reach the model server"):
        connect(f"http://127.0.0.1:{_closed_port()}/v1", "auto", None, None)


def test_an_unknown_model_names_those_served_and_presets_resolve():
    with StreamingStandIn([Reply()]) as server:
        with pytest.raises(ModelError, match="it serves: stand-in-model"):
            connect(server.url, "gpt-9", None, None)
    assert resolve_base_url("ollama") == "http://127.0.0.1:11434/v1"
    with pytest.raises(ModelError, match="neither a URL nor a preset"):
        resolve_base_url("localhost:1234")


def test_an_api_key_comes_from_the_variable_named(monkeypatch):
    monkeypatch.delenv("TEAM_SERVER_KEY", raising=False)
    with pytest.raises(ModelError, match="TEAM_SERVER_KEY is not set"):
        make_client("vllm", "TEAM_SERVER_KEY")
    monkeypatch.setenv("TEAM_SERVER_KEY", "s3cret")
    assert make_client("vllm", "TEAM_SERVER_KEY").api_key == "s3cret"


def test_cancel_closes_a_stream_that_waits_on_the_server():
    slow = Reply([chunk("a")], hold=30)
    cancel = threading.Event()
    with StreamingStandIn([slow, Reply([chunk("after"), chunk(finish="stop")])]) as server:
        backend = _backend(server)
        threading.Timer(0.3, cancel.set).start()
        events, usage = _step(backend, options=GenerationOptions(max_tokens=8, cancel=cancel))
        assert usage.finish_reason == "cancelled"
        _, after = _step(backend)
    assert after.finish_reason == "stop"


def test_headless_run_against_a_refusing_server_exits_1_with_one_line(tmp_path: Path, isolated_env):
    """GEMMA_CODE_BASE_URL alone picks the openai backend."""
    with StreamingStandIn([Reply(status=401, body={"error": {"message": "bad key"}})]) as server:
        env = {**isolated_env, "GEMMA_CODE_BASE_URL": server.url}
        proc = run_cli(["run", "hi"], tmp_path, env, timeout=120)
    assert proc.returncode == 1
    assert "refused the API key (401)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_project_file_cannot_send_the_code_to_a_server_of_its_choosing(tmp_path: Path, isolated_env):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".gemma-code.toml").write_text('base_url = "http://127.0.0.1:9/v1"\n')
    proc = run_cli(["config"], project, isolated_env)
    line = next(line for line in proc.stdout.splitlines() if line.startswith("base_url"))
    assert line.startswith("base_url = null") and "ignored: this project is not trusted" in line


def test_models_lists_a_servers_models(tmp_path: Path, isolated_env):
    with StreamingStandIn([Reply()]) as server:
        proc = run_cli(["models", "--base-url", server.url, "--json"], tmp_path, isolated_env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"id": "stand-in-model", "context_size": 4096}]


# llama-cpp-python's own OpenAI-compatible server, as a person would start it (README).


def _model_server(name: str, context_size: int, log: Path):
    from evals.harness.peers import ModelServer
    from gemma_code.backends.models.registry import ensure_local, get_spec

    pytest.importorskip("llama_cpp.server", reason="the evals extra (llama-cpp-python[server])")
    return ModelServer(ensure_local(get_spec(name)), context_size=context_size, chat_format=None,
                       log_file=log, n_threads=2)


@pytest.fixture(scope="module")
def gemma_server(tmp_path_factory):
    """Gemma 3 270M served on 127.0.0.1, started once for this module's fast cases."""
    server = _model_server("gemma-3-270m", 2048, tmp_path_factory.mktemp("server") / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.mark.real_model
def test_a_real_server_streams_text_and_stops_at_max_tokens(gemma_server):
    backend = connect(gemma_server.url, "auto", None, 2048)
    events, usage = _step(backend, [UserMessage.of("The capital of France is")], (),
                          GenerationOptions(max_tokens=8, temperature=0))
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 1 and "".join(texts).strip()
    assert usage.finish_reason == "length" and usage.context_size == 2048
    # this server streams no usage: the figures are missing, not zero
    assert usage.prompt_tokens is None or usage.prompt_tokens > 0
    assert usage.decode_seconds > 0


@pytest.mark.real_model
def test_cancel_on_a_real_server_stops_the_step_and_the_next_works(gemma_server):
    backend = connect(gemma_server.url, "local-model", None, 2048)
    cancel = threading.Event()
    events = []
    for event in backend.stream([UserMessage.of("The capital of France is")], (),
                                GenerationOptions(max_tokens=400, temperature=0, cancel=cancel)):
        events.append(event)
        if isinstance(event, TextDelta):
            cancel.set()
    assert events[-1].finish_reason == "cancelled"
    assert sum(isinstance(e, TextDelta) for e in events) < 50
    _, usage = _step(backend, [UserMessage.of("Hello")], (), GenerationOptions(max_tokens=4))
    assert usage.finish_reason in ("length", "stop")


@pytest.mark.real_model
def test_a_real_server_takes_a_history_of_calls_and_results(gemma_server):
    call = ToolCall(id="call_1", name="read_file", arguments={"path": "a.py"})
    history = [UserMessage.of("read a.py"), AssistantMessage(tool_calls=(call,)),
               ToolMessage(call_id="call_1", name="read_file", content=())]
    backend = connect(gemma_server.url, "auto", None, 2048)
    _, usage = _step(backend, history, (READ_FILE,), GenerationOptions(max_tokens=4))
    assert usage.finish_reason in ("length", "stop", "tool_calls")


@pytest.mark.real_model
def test_headless_run_on_a_real_server_reports_the_backend_and_missing_figures(
        gemma_server, tmp_path: Path, isolated_env):
    proc = run_cli(["run", "--backend", "openai", "--base-url", gemma_server.url, "--json",
                    "--max-steps", "1", "--max-tokens", "16", "--context-size", "2048",
                    "--no-verify", "say hi"], tmp_path, isolated_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    started, finished = events[0], events[-1]
    assert started["type"] == "run_started" and started["backend"] == "openai"
    assert started["model"] == "local-model"
    assert finished["type"] == "run_finished" and finished["steps"] == 1
    assert finished["cached_tokens"] is None or finished["cached_tokens"] >= 0


@pytest.mark.real_model
def test_qwen_on_a_server_fixes_a_one_line_bug(repo: Path, isolated_env, tmp_path: Path):
    """`gemma-code run --backend openai` end to end: the bundled 1.5B, served, edits calc.py."""
    server = _model_server("qwen2.5-coder-1.5b", 8192, tmp_path / "qwen-server.log")
    server.start()
    try:
        proc = run_cli(
            ["run", "--backend", "openai", "--base-url", server.url, "--approval", "auto",
             "--temperature", "0", "--max-steps", "8", "--max-tokens", "512", "--no-verify",
             "--context-size", "8192", "--json",
             "calc.py has a bug: add(2, 3) should be 5. In calc.py replace `return a - b` with "
             "`return a + b`."],
            repo, isolated_env, timeout=900,
        )
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    edits = [e for e in events if e["type"] == "tool_result"
             and e["name"] in ("edit_file", "write_file") and not e["is_error"]]
    assert edits, proc.stdout[-6000:]
    assert "a + b" in (repo / "calc.py").read_text()


@pytest.mark.asyncio
async def test_the_tui_says_why_a_step_failed_and_the_next_message_works(repo: Path):
    """The TUI on a server (opened as `--base-url` opens it): a stream cut off mid-call is an
    error line, the session goes on, and the status bar shows the cache share as not reported."""
    from gemma_code.agent.config import Settings
    from gemma_code.agent.models import open_backend_with_progress
    from gemma_code.agent.tui.app import GemmaCodeApp
    from gemma_code.agent.tui.widgets import AssistantBlock

    from .tui.conftest import finished, notices, ready, send, until

    cut = Reply([chunk(tool_calls=[{"index": 0, "id": "c", "function": {"name": "read_file",
                                                                         "arguments": '{"pa'}}])], cut=True)
    with StreamingStandIn([cut, Reply([chunk("second answer"), chunk(finish="stop")])]) as server:
        settings = Settings(base_url=server.url, verify="off", repo_map_tokens=0,
                            context_files_tokens=0)
        app = GemmaCodeApp(settings, repo, open_backend=open_backend_with_progress, theme="textual-dark")
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            assert app.status.model == "stand-in-model" and app.status.backend == "openai"
            await send(pilot, "read a.py")
            await finished(pilot, 20)
            assert any("broke off" in text for text in notices(app))
            await send(pilot, "try again")
            await finished(pilot, 20)
            await until(pilot, lambda: app.query(AssistantBlock)
                        and app.query(AssistantBlock).last().source == "second answer")
            await until(pilot, lambda: app.status.usage is not None)
            line = str(app.status.render())
            assert "cache n/a" in line and "ctx –/4.1k" in line  # not reported: no made-up 0
