"""A streamable HTTP MCP server for the tests: bound to 127.0.0.1 on a free port, which it
prints as its first line; it stops by itself after LIFETIME seconds (argv[1], default 60)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading

import uvicorn

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations


def build() -> MCPServer:
    server = MCPServer("calc")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def token(ctx: Context) -> str:
        """The X-Token header the client sent."""
        request = ctx.request_context.request
        return request.headers.get("x-token", "none") if request is not None else "none"

    return server


def main() -> None:
    logging.getLogger("mcp").setLevel(logging.WARNING)
    lifetime = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    threading.Timer(lifetime, os._exit, (0,)).start()  # never outlives a test run
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # before the port is told: a client may connect at once
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(build().streamable_http_app(), log_level="warning")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
