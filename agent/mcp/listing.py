"""What `gemma-code mcp list` and `/mcp` say: each server, its state, its tools."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from ..config import LoadedSettings, load_config
from .manager import McpManager, ServerState
from .tools import mcp_tools

NO_SERVERS = ("no MCP servers are configured; add [mcp_servers.NAME] tables (command, args, env, "
              "cwd, or url, headers) to the config file")


def secrets_hidden(server: dict) -> dict:
    """A server's settings table with its header and environment values hidden (tokens go
    there), as `gemma-code config` shows it."""
    return {key: {name: "<hidden>" for name in value} if key in ("headers", "env") else value
            for key, value in server.items()}


def server_lines(state: ServerState, offered: dict[tuple[str, str], str]) -> list[str]:
    """A server's heading line, then one line a tool: the name the model knows it by
    (`offered`: by server and tool), read-only ones marked."""
    lines = [f"{state.name}  {state.state}  ({state.transport})"]
    for tool in state.tools:
        name = offered.get((state.name, tool.name), f"{tool.name} (left out: its name clashes)")
        about = tool.description.strip().splitlines()[0] if tool.description.strip() else ""
        lines.append(f"  {name}{'  (read-only)' if tool.read_only else ''}"
                     f"{'  ' + about if about else ''}")
    if state.log is not None and state.state != "running":
        lines.append(f"  its stderr: {state.log}")
    return lines


def listing(manager: McpManager | None, configured: Iterable[str] = ()) -> str:
    """Every server of a running session; `configured` names those not started yet."""
    waiting = ", ".join(configured)
    if manager is None and waiting:
        return f"the MCP servers {waiting} start with the session, once the model is loaded"
    if manager is None or not manager.servers:
        return NO_SERVERS
    tools, _ = mcp_tools(manager, [])
    offered = {(tool.server, tool.remote.name): tool.name for tool in tools}
    return "\n".join(line for state in manager.states() for line in server_lines(state, offered))


def list_servers(root: Path) -> int:
    """`gemma-code mcp list`: start the servers the settings name, list them, stop them."""
    loaded: LoadedSettings = load_config(root)
    for line in loaded.notices():  # a project's servers not started until it is trusted
        print(f"gemma-code: {line}", file=sys.stderr)
    manager = McpManager(loaded.settings.mcp_servers, root)
    try:
        manager.start()
        print(listing(manager))
    finally:
        manager.close()
    return 0

