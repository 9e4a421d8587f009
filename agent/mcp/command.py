"""`gemma-code mcp list`, as the command line declares it; the work loads only when it runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_mcp_command(sub: argparse._SubParsersAction,
                    directory_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """`gemma-code mcp list`."""
    mcp = sub.add_parser("mcp", help="the MCP servers whose tools the model gets")
    actions = mcp.add_subparsers(dest="mcp_command", required=True)
    listed = actions.add_parser("list", help="start each server, show its state and tools, stop it")
    directory_option(listed)


def cmd_mcp(args: argparse.Namespace) -> int:
    from .listing import list_servers

    return list_servers(args.directory.resolve())
