"""A threaded HTTP server on 127.0.0.1 for the test stand-ins (the Hub, an OpenAI-compatible
model server): started on entering a `with` block, shut down on leaving it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Serves `handler` on a free port of 127.0.0.1; the handler reaches this object as `self.stub`."""

    def __init__(self, handler: type[StubHandler]):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def stub(self):
        return self.server.stub  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean
