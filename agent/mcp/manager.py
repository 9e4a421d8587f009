"""The MCP servers of a session: one background event loop thread runs every server's
connection; the synchronous agent calls into it and waits, with a time limit."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from gemma_code.backends.cache_dir import user_cache_dir

from ..config import McpServer
from .connection import Connection, ServerGone, ServerTool

_STOP_SECONDS = 8.0  # a stdio server gets 2 s to exit on its own, then SIGTERM, SIGKILL
_POLL_SECONDS = 0.1  # how often a waiting call looks at the turn's cancel


def log_dir() -> Path:
    """Where the stderr of stdio servers goes, one file a server (never the screen)."""
    return user_cache_dir() / "mcp"


def _sdk_logs_to(path: Path) -> None:
    """The SDK's own warnings (a line a server wrote that is not JSON-RPC, a dropped
    stream) go to a file: Python would print them on the screen, over the TUI."""
    sdk = logging.getLogger("mcp")
    if not any(isinstance(h, logging.FileHandler) for h in sdk.handlers):
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        sdk.addHandler(handler)
    sdk.propagate = False


class CallCancelled(Exception):
    """The person interrupted the turn while a server worked on a call."""


@dataclass(frozen=True)
class ServerState:
    """What `gemma-code mcp list` and `/mcp` show of one server."""

    name: str
    transport: str  # the command line or the URL
    state: str  # "running", or why not
    tools: tuple[ServerTool, ...]
    log: Path | None


class McpManager:
    """Starts the configured servers, calls their tools, and stops them with the session."""

    def __init__(self, servers: dict[str, McpServer], root: Path, logs: Path | None = None) -> None:
        self.servers = dict(servers)
        self.root = root  # where stdio servers run, unless their `cwd` says otherwise
        self.logs = logs or log_dir()
        self.connections: dict[str, Connection] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._files: list[TextIO] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-servers",
                                        daemon=True)

    def start(self) -> list[str]:
        """Start every server at once and wait until each answers or runs out of time;
        returns the lines that say how that went."""
        if not self.servers:
            return []
        _sdk_logs_to(self.logs / "sdk.log")
        self._thread.start()
        longest = max(config.timeout for config in self.servers.values())
        future = asyncio.run_coroutine_threadsafe(self._start_all(), self._loop)
        try:
            future.result(longest + _STOP_SECONDS)
        except Exception as exc:  # noqa: BLE001 - a failed start is a notice, never the end
            return [f"MCP servers did not start: {exc}"]
        return [self._started_line(name) for name in self.servers]

    def _started_line(self, name: str) -> str:
        connection = self.connections[name]
        if connection.running:
            count = len(connection.tools)
            return f"MCP server {name} started: {count} tool{'s' if count != 1 else ''}"
        log = "" if connection.config.url else f" (its stderr: {self.logs / f'{name}.log'})"
        return f"MCP server {name} did not start: {connection.failure}{log}"

    async def _start_all(self) -> None:
        await asyncio.gather(*(self._start_one(name, config)
                               for name, config in self.servers.items()))

    async def _start_one(self, name: str, config: McpServer) -> None:
        connection = Connection(name, config, self._errlog(name, config), self.root)
        self.connections[name] = connection
        ready: asyncio.Future[None] = self._loop.create_future()
        task = asyncio.ensure_future(connection.serve(ready))
        self._tasks[name] = task
        try:
            await asyncio.wait_for(ready, config.timeout)
        except asyncio.TimeoutError:
            connection.failure = f"no answer within {config.timeout:g} seconds"
            task.cancel()
        except (ServerGone, asyncio.CancelledError):
            pass  # the connection has recorded why

    def _errlog(self, name: str, config: McpServer) -> TextIO | None:
        """A stdio server's log file, opened for appending: its stderr goes there."""
        if config.url is not None:
            return None
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        log.write(f"--- {stamp} starting {config.command or config.url}\n")
        log.flush()
        self._files.append(log)
        return log

    def call(self, server: str, tool: str, arguments: dict[str, Any],
             cancel: threading.Event | None = None) -> Any:
        """The server's `CallToolResult` for one call. Raises ServerGone, TimeoutError (after
        the server's `timeout`), CallCancelled, or the SDK's error for an invalid answer."""
        connection = self.connections.get(server)
        if connection is None:
            raise ServerGone("not started")
        limit = connection.config.timeout
        future = asyncio.run_coroutine_threadsafe(connection.call(tool, arguments, limit),
                                                  self._loop)
        deadline = time.monotonic() + limit + 2  # the SDK's own limit comes first
        while True:
            try:
                return future.result(_POLL_SECONDS)
            except TimeoutError:
                if future.done():  # the SDK's own time limit
                    raise
                if cancel is not None and cancel.is_set():
                    future.cancel()
                    raise CallCancelled from None
                if time.monotonic() > deadline:
                    future.cancel()
                    raise

    def states(self) -> list[ServerState]:
        """Every configured server: running with its tools, or why not."""
        states = []
        for name, config in self.servers.items():
            connection = self.connections.get(name)
            running = connection is not None and connection.running
            why = connection.failure if connection is not None else "not started"
            states.append(ServerState(
                name, config.url or " ".join([config.command or "", *config.args]),
                "running" if running else f"not running: {why}",
                tuple(connection.tools) if running and connection else (),
                None if config.url else self.logs / f"{name}.log",
            ))
        return states

    def close(self) -> None:
        """Stop every server (stdio ones as the spec says: stdin closed, then signals)."""
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._stop_all(), self._loop)
        try:
            future.result(_STOP_SECONDS + 2)
        except Exception:  # noqa: BLE001 - stopping goes on; what is left dies with the process
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2)
        for log in self._files:
            log.close()

    async def _stop_all(self) -> None:
        for connection in self.connections.values():
            connection.stop()
        waiting = [task for task in self._tasks.values() if not task.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=_STOP_SECONDS)
