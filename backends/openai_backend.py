"""A model on any OpenAI-compatible server (vLLM, Ollama, LM Studio, llama.cpp's servers),
driven through the official `openai` client: streamed chat completions with the server's own
tool calls, and the local backends' text parser for calls a server leaves in the text.

Failures become one sentence (`ServerError`, or `ModelError` while connecting); the client
retries 429 and 5xx answers a bounded number of times, honouring Retry-After.
"""

from __future__ import annotations

import importlib
import json
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from gemma_code.agent.events import (
    BackendEvent, FinishReason, ReasoningDelta, ToolCallParsed, Usage,
)
from gemma_code.agent.messages import Message, ToolCall
from gemma_code.agent.protocols import AgentProfile, GenerationOptions, ToolSpec

from .models.spec import ModelError
from .openai_wire import chat_messages, chat_tools
from .toolcalls import ToolCallParser, ToolFormat

PRESETS = {
    "ollama": "http://127.0.0.1:11434/v1",
    "lmstudio": "http://127.0.0.1:1234/v1",
    "vllm": "http://127.0.0.1:8000/v1",
    "llama-server": "http://127.0.0.1:8080/v1",
}
DEFAULT_CONTEXT = 32768  # when neither the settings nor the server say
MAX_RETRIES = 2  # 429 and 5xx answers, connection errors: the client waits (Retry-After) and tries again
_TIMEOUT = openai.Timeout(600.0, connect=10.0)  # a long prefill on a busy server is normal
_VISION_HINTS = ("gemma-4", "gemma4", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b", "gemma3:",
                 "vision", "-vl", "llava", "pixtral")


# The HTTP library the client is built on (httpx, or the fork recent clients use): its
# transport errors surface unwrapped while a stream is read.
_HTTP = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
_STREAM_ERRORS = (openai.APIError, _HTTP.HTTPError, _HTTP.StreamError, OSError, ValueError)


class ServerError(RuntimeError):
    """A model step the server could not complete, in one sentence."""


def resolve_base_url(value: str) -> str:
    """A preset name (`ollama`, `lmstudio`, `vllm`, `llama-server`) or a URL, without its last `/`."""
    url = PRESETS.get(value.strip().lower(), value.strip())
    if not url.startswith(("http://", "https://")):
        presets = ", ".join(PRESETS)
        raise ModelError(f"--base-url {value!r} is neither a URL nor a preset ({presets})")
    return url.rstrip("/")


def make_client(base_url: str, api_key_env: str | None) -> openai.OpenAI:
    """An `openai` client for the server; the key comes from the variable `api_key_env` names."""
    key = os.environ.get(api_key_env, "") if api_key_env else ""
    if api_key_env and not key:
        raise ModelError(f"the API key variable {api_key_env} is not set")
    return openai.OpenAI(base_url=resolve_base_url(base_url), api_key=key or "not-needed",
                         max_retries=MAX_RETRIES, timeout=_TIMEOUT)


def error_reason(exc: BaseException, base_url: str, model: str = "") -> str:
    """What went wrong talking to the server, as one sentence."""
    if isinstance(exc, openai.APITimeoutError):
        return f"the model server at {base_url} did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach the model server at {base_url} (is it running?)"
    if isinstance(exc, openai.AuthenticationError):
        return (f"the model server at {base_url} refused the API key (401); name the variable "
                "holding it with --api-key-env")
    if isinstance(exc, openai.NotFoundError):
        return f"the model server at {base_url} has no model {model!r} (404)"
    if isinstance(exc, openai.APIStatusError):
        busy = exc.status_code in (429, 503)
        why = "is busy" if busy else f"answered {exc.status_code}"
        detail = _first_line(getattr(exc, "message", "") or str(exc))
        tries = f" after {MAX_RETRIES + 1} tries" if busy or exc.status_code >= 500 else ""
        return f"the model server at {base_url} {why}{tries}: {detail}"
    return f"the stream from {base_url} broke off: {_first_line(str(exc)) or type(exc).__name__}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


@dataclass(frozen=True)
class ServedModel:
    """A model the server lists, with its context size when the server says it (vLLM does)."""

    id: str
    context_size: int | None = None


def list_served_models(base_url: str, api_key_env: str | None = None) -> list[ServedModel]:
    """The server's `/models`; ModelError with the reason when it cannot be read."""
    client = make_client(base_url, api_key_env)
    try:
        listed = list(client.models.list())
    except _STREAM_ERRORS as exc:
        raise ModelError(error_reason(exc, str(client.base_url).rstrip("/"))) from None
    finally:
        client.close()
    return [ServedModel(m.id, (m.model_extra or {}).get("max_model_len")) for m in listed]


def connect(base_url: str, model: str, api_key_env: str | None,
            context_size: int | None) -> OpenAIBackend:
    """A backend for `model` on the server (`auto`: the first it lists), checked to be there."""
    served = list_served_models(base_url, api_key_env)
    if not served:
        raise ModelError(f"the model server at {resolve_base_url(base_url)} lists no model")
    chosen = served[0] if model == "auto" else next((m for m in served if m.id == model), None)
    if chosen is None:
        names = ", ".join(m.id for m in served)
        raise ModelError(f"the model server at {resolve_base_url(base_url)} has no model "
                         f"{model!r}; it serves: {names}")
    return OpenAIBackend(make_client(base_url, api_key_env), chosen.id,
                         context_size or chosen.context_size or DEFAULT_CONTEXT)


def guess_vision(model: str) -> bool:
    """Whether a served model reads images, judged by its name (a text model gets OCR text)."""
    return any(hint in model.lower() for hint in _VISION_HINTS)


def guess_tool_format(model: str) -> ToolFormat:
    """The markup a model writes calls in when the server leaves them in the text."""
    name = model.lower()
    if "gemma-4" in name or "gemma4" in name:
        return "gemma4"
    return "hermes"  # its `<tool_call>` markup, fenced and bare JSON: what most models write


@dataclass
class _NativeCall:
    id: str = ""
    name: str = ""
    arguments: str = ""

    def done(self) -> ToolCall:
        try:
            parsed = json.loads(self.arguments or "{}")
        except ValueError as exc:
            return ToolCall(name=self.name, parse_error=f"its arguments are not JSON: {exc}")
        if not isinstance(parsed, dict):
            return ToolCall(name=self.name, parse_error="its arguments are not a JSON object")
        return ToolCall(**({"id": self.id} if self.id else {}), name=self.name, arguments=parsed)


@dataclass
class _StepState:
    """What one streamed step gathered: calls by index, timing, usage, the finish."""

    calls: dict[int, _NativeCall] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    first: float | None = None  # when the first token came
    usage: Any = None
    finish: str | None = None
    text_calls: int = 0


class OpenAIBackend:
    """A model served over the OpenAI chat-completions API."""

    name = "openai"

    def __init__(self, client: openai.OpenAI, model: str, context_size: int = DEFAULT_CONTEXT,
                 *, vision: bool | None = None, tool_format: ToolFormat | None = None) -> None:
        self.client, self.model, self.context_size = client, model, context_size
        self.profile = AgentProfile()  # a served model is not in the registry: every tool
        self.served_model = model  # what people are shown (`--model auto` picks one)
        self.vision = guess_vision(model) if vision is None else vision
        self.tool_format = tool_format or guess_tool_format(model)
        self.base_url = str(client.base_url).rstrip("/")

    def _request(self, messages: Sequence[Message], tools: Sequence[ToolSpec],
                 options: GenerationOptions) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model, "messages": chat_messages(messages, self.vision),
            "max_tokens": options.max_tokens, "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.temperature is not None:
            request["temperature"] = options.temperature
        if tools:
            request["tools"] = chat_tools(tools)
            request["tool_choice"] = options.tool_choice
        return request

    def _open(self, request: dict[str, Any]) -> openai.Stream:
        try:
            return self.client.chat.completions.create(**request)
        except openai.APIError as exc:
            raise ServerError(error_reason(exc, self.base_url, self.model)) from None

    def stream(self, messages: Sequence[Message], tools: Sequence[ToolSpec],
               options: GenerationOptions) -> Iterator[BackendEvent]:
        """One assistant step, streamed; ends with one `Usage` (figures the server did not
        report are None). Setting `options.cancel` closes the stream at once."""
        state = _StepState()
        parser = ToolCallParser(self.tool_format, {t.name for t in tools})
        chunks = _Chunks(self._open(self._request(messages, tools, options)))
        try:
            for chunk in chunks.until(options.cancel):
                yield from self._chunk(chunk, parser, state)
        except _STREAM_ERRORS as exc:
            raise ServerError(error_reason(exc, self.base_url, self.model)) from None
        finally:
            chunks.close()
        if chunks.cancelled:
            yield self._usage(state, "cancelled")
            return
        if state.finish is None:  # the connection closed before the step ended
            raise ServerError(f"the stream from {self.base_url} broke off before the step ended")
        for event in parser.finish():
            yield from self._counted(event, state)
        for index in sorted(state.calls):
            yield ToolCallParsed(call=state.calls[index].done())
        yield self._usage(state, self._finish(state))

    def _chunk(self, chunk: Any, parser: ToolCallParser, state: _StepState) -> Iterator[BackendEvent]:
        if chunk.usage is not None:
            state.usage = chunk.usage
        for choice in chunk.choices:
            if choice.finish_reason:
                state.finish = choice.finish_reason
            yield from self._delta(choice.delta, parser, state)

    def _delta(self, delta: Any, parser: ToolCallParser, state: _StepState) -> Iterator[BackendEvent]:
        if delta is None:
            return
        reasoning = (delta.model_extra or {}).get("reasoning_content") or \
            (delta.model_extra or {}).get("reasoning")
        if reasoning or delta.content or delta.tool_calls:
            state.first = state.first or time.perf_counter()
        if isinstance(reasoning, str) and reasoning:
            yield ReasoningDelta(text=reasoning)
        if delta.content:
            for event in parser.feed(delta.content):
                yield from self._counted(event, state)
        for piece in delta.tool_calls or ():
            call = state.calls.setdefault(piece.index or 0, _NativeCall())
            call.id = piece.id or call.id
            if piece.function is not None:
                call.name += piece.function.name or ""
                call.arguments += piece.function.arguments or ""

    @staticmethod
    def _counted(event: BackendEvent, state: _StepState) -> Iterator[BackendEvent]:
        if isinstance(event, ToolCallParsed):
            state.text_calls += 1
        yield event

    def _finish(self, state: _StepState) -> FinishReason:
        if state.calls or state.text_calls:
            return "tool_calls"
        return "length" if state.finish == "length" else "stop"

    def _usage(self, state: _StepState, finish: FinishReason) -> Usage:
        now = time.perf_counter()
        first = state.first or now
        usage = state.usage
        details = getattr(usage, "prompt_tokens_details", None)
        return Usage(
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            cached_tokens=getattr(details, "cached_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            prefill_seconds=first - state.started, decode_seconds=now - first,
            finish_reason=finish, context_size=self.context_size,
        )

    def close(self) -> None:
        self.client.close()


class _Chunks:
    """A stream read on its own thread, so that a cancel ends the step at once, even while the
    server is still silent (a read blocked on a socket cannot be interrupted)."""

    _END = object()

    def __init__(self, stream: openai.Stream) -> None:
        self.stream, self.cancelled = stream, False
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for chunk in self.stream:
                self._queue.put(chunk)
        except BaseException as exc:  # handed to the reader, who raises it
            self._queue.put(exc)
        self._queue.put(self._END)

    def until(self, cancel: threading.Event | None) -> Iterator[Any]:
        """The chunks as they come; stops early (setting `cancelled`) once `cancel` is set."""
        while True:
            if cancel is not None and cancel.is_set():
                self.cancelled = True
                return
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Drop the connection (the reading thread ends with it)."""
        try:
            self.stream.close()
        except _STREAM_ERRORS:
            pass
