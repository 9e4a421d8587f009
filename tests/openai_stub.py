"""An OpenAI-compatible chat server on 127.0.0.1 whose model is the scripted backend, for
driving the peer agents (aider, mini-swe-agent) end to end in tests.

It answers `POST /v1/chat/completions` (not streamed: neither peer asks for a stream as the
harness runs them) and `GET /v1/models`, as llama-cpp-python's server does, playing one scripted
turn per request. Every request body is kept in `requests`, so a test can read what the agent
showed the model. It also has the `url` and `restart()` the harness expects of a model server.
"""

from __future__ import annotations

import json
import threading
import time

from gemma_code.agent.events import TextDelta, Usage
from gemma_code.agent.protocols import GenerationOptions
from gemma_code.backends.scripted import ScriptedBackend, ScriptExhausted

from .loopback import LoopbackServer, StubHandler


class ScriptedChatServer(LoopbackServer):
    """Serves `backend` as model `served_name`; use as a context manager."""

    def __init__(self, backend: ScriptedBackend, served_name: str):
        self.backend, self.served_name = backend, served_name
        self.requests: list[dict] = []
        self.restarts = 0
        self._lock = threading.Lock()  # one generation at a time, as the real server
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        return self.root + "/v1"

    def restart(self) -> None:
        self.restarts += 1  # nothing outlives a request here

    def reply(self, body: dict) -> tuple[str, int, int]:
        """The next scripted turn's text, with prompt and completion token counts."""
        with self._lock:
            self.requests.append(body)
            text, completion = [], 0
            for event in self.backend.stream([], [], GenerationOptions()):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, Usage):
                    completion = event.completion_tokens
            return "".join(text), len(json.dumps(body.get("messages", []))) // 4, completion


class _Handler(StubHandler):
    stub: ScriptedChatServer

    def _send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": self.stub.served_name, "object": "model", "owned_by": "me"}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            text, prompt_tokens, completion_tokens = self.stub.reply(body)
        except ScriptExhausted as exc:
            self._send_json(500, {"error": {"message": str(exc), "type": "server_error"}})
            return
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        head = {"id": f"chatcmpl-{len(self.stub.requests)}", "created": int(time.time()),
                "model": self.stub.served_name}
        self._send_json(200, {**head, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
