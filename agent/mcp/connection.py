"""One MCP server's connection, on the manager's event loop: its transport, its session, its
tools. Everything here is async and runs on that loop only."""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..config import McpServer

# How long the client waits for the server to answer before a call is given up, at most: the
# HTTP transport's own read limit (a server may hold a response stream open that long).
_HTTP_READ_SECONDS = 300.0


@dataclass(frozen=True)
class ServerTool:
    """A tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool


class ServerGone(Exception):
    """The server is not running (it failed to start, crashed or was stopped)."""


class Connection:
    """A server's session, held open by `serve` (one task) until `stop`."""

    def __init__(self, name: str, config: McpServer, errlog: TextIO | None, root: Path) -> None:
        self.name = name
        self.root = root
        self.config = config
        self.errlog = errlog
        self.tools: list[ServerTool] = []
        self.failure: str | None = None  # why it is not running, once it is not
        self._session: Any = None  # mcp.ClientSession while connected
        self._stop = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._session is not None

    async def serve(self, ready: asyncio.Future[None]) -> None:
        """Connect, list the tools, say so through `ready`, then hold on until `stop`."""
        from mcp import ClientSession

        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(await self._transport(stack))
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.tools = await _list_tools(session)
                self._session = session
                if not ready.done():  # else the manager gave up waiting and cancels this task
                    ready.set_result(None)
                await self._stop.wait()
        except asyncio.CancelledError:
            self.failure = self.failure or "stopped"
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure of one server stays its own
            self.failure = self.failure or _reason(exc)
            if not ready.done():
                ready.set_exception(ServerGone(self.failure))
        finally:
            self._session = None
            if not ready.done():
                ready.cancel()

    async def _transport(self, stack: AsyncExitStack) -> Any:
        config = self.config
        if config.url is not None:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            client = httpx2.AsyncClient(headers=dict(config.headers),
                                        timeout=httpx2.Timeout(30.0, read=_HTTP_READ_SECONDS))
            await stack.enter_async_context(client)
            return streamable_http_client(config.url, http_client=client)
        from mcp import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=config.command or "", args=list(config.args),
                                       env=dict(config.env) or None,
                                       cwd=self.root / (config.cwd or "."))
        errlog = self.errlog or open(os.devnull, "w")  # noqa: SIM115 - never the screen
        return stdio_client(params, errlog=errlog)

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> Any:
        """The server's `CallToolResult`; raises ServerGone, TimeoutError or the SDK's error."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        session = self._session
        if session is None:
            raise ServerGone(self.failure or "not running")
        try:
            return await session.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise TimeoutError from None
            if exc.code == CONNECTION_CLOSED:
                self.failure = "it closed the connection and may have crashed (its log says more)"
                self._stop.set()
                raise ServerGone(self.failure) from None
            raise

    def stop(self) -> None:
        self._stop.set()


async def _list_tools(session: Any) -> list[ServerTool]:
    from mcp_types import PaginatedRequestParams

    tools, cursor = [], None
    while True:
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        listed = await session.list_tools(params=params)
        for tool in listed.tools:
            hints = tool.annotations
            tools.append(ServerTool(tool.name, tool.description or "", dict(tool.input_schema),
                                    bool(hints and hints.read_only_hint)))
        cursor = listed.next_cursor
        if not cursor:
            return tools


def _reason(exc: BaseException) -> str:
    """One line for a failure, digging the first real error out of exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return text.splitlines()[0][:300]
