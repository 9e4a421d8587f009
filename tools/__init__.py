"""The tools the model can call. Importing this package stays cheap; tool modules load on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gemma_code.agent.protocols import Tool


TOOL_NAMES = ("read_file", "list_files", "grep", "edit_file", "write_file", "run_shell",
              "view_image", "screenshot")


def default_tools(names: tuple[str, ...] | None = None) -> list[Tool]:
    """One instance of every built-in tool (or of those `names` picks), in the order the model
    is shown them."""
    from .edits import EditFile, WriteFile
    from .files import ReadFile
    from .search import Grep, ListFiles
    from .screenshot import Screenshot
    from .shell import RunShell
    from .vision import ViewImage

    tools: list[Tool] = [
        ReadFile(), ListFiles(), Grep(), EditFile(), WriteFile(), RunShell(), ViewImage(),
        Screenshot(),
    ]
    return tools if names is None else [tool for tool in tools if tool.name in names]


def unknown_tools(names: tuple[str, ...]) -> str | None:
    """What is wrong with a list of tool names, or None when every name is a tool."""
    unknown = [name for name in names if name not in TOOL_NAMES]
    if unknown:
        return f"unknown tool {', '.join(unknown)}; the tools are {', '.join(TOOL_NAMES)}"
    return None
