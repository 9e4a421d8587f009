"""A loopback chat-completions server that streams what a test scripts, well or badly: server-sent
events, error answers with Retry-After, a stream cut off, malformed events. Each request body
is kept in `requests`; each request plays the next `Reply` (the last one repeats)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from .loopback import LoopbackServer, StubHandler


@dataclass
class Reply:
    """One answer: an error `status` with `body` and `headers`, or a 200 stream of `chunks`
    (dicts sent as events; strings sent as raw lines), ended by `[DONE]` unless `cut`."""

    chunks: list[Any] = field(default_factory=list)
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False
    hold: float = 0.0  # seconds the stream stays open, silent, after its chunks


def chunk(content: str | None = None, *, tool_calls: list | None = None, finish: str | None = None,
          usage: dict | None = None) -> dict[str, Any]:
    """A `chat.completion.chunk` with one choice (none when only `usage` is given)."""
    choices = [] if usage is not None and content is None and tool_calls is None and finish is None \
        else [{"index": 0, "delta": {"role": "assistant", "content": content,
                                     **({"tool_calls": tool_calls} if tool_calls else {})},
               "finish_reason": finish}]
    return {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": choices, **({"usage": usage} if usage is not None else {})}


class StreamingStandIn(LoopbackServer):
    """Serves `replies` in turn under model name `model`; use as a context manager."""

    def __init__(self, replies: list[Reply], model: str = "stand-in-model") -> None:
        self.replies, self.model = replies, model
        self.requests: list[dict[str, Any]] = []
        super().__init__(_Handler)

    @property
    def url(self) -> str:
        return self.root + "/v1"

    def next_reply(self, body: dict[str, Any]) -> Reply:
        self.requests.append(body)
        return self.replies[min(len(self.requests), len(self.replies)) - 1]


class _Handler(StubHandler):
    stub: StreamingStandIn

    def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": self.stub.model, "object": "model", "owned_by": "test", "max_model_len": 4096}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        reply = self.stub.next_reply(body)
        if reply.status != 200:
            self._json(reply.status, reply.body or {"error": {"message": "scripted failure"}},
                       reply.headers)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for item in reply.chunks:
            line = item if isinstance(item, str) else "data: " + json.dumps(item)
            self.wfile.write((line + "\n\n").encode())
            self.wfile.flush()
        time.sleep(reply.hold)
        if not reply.cut:
            self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True
