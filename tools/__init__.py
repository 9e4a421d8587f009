"""The tools the model can call. Importing this package stays cheap; tool modules load on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gemma_code.agent.protocols import Tool


def default_tools() -> list[Tool]:
    """One instance of every built-in tool, in the order the model is shown them."""
    from .edits import EditFile, WriteFile
    from .files import ReadFile
    from .search import Grep, ListFiles
    from .screenshot import Screenshot
    from .shell import RunShell
    from .vision import ViewImage

    return [
        ReadFile(), ListFiles(), Grep(), EditFile(), WriteFile(), RunShell(), ViewImage(),
        Screenshot(),
    ]
