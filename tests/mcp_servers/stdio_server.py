"""A stdio MCP server for the tests, on the SDK's own MCPServer: a read-only tool, one that
writes a file, one that returns an image, one that sleeps, one that crashes the server, two
whose names clash once made tool names, and one with a reply too long to pass whole."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import Image, MCPServer
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True)


def build(name: str = "notes") -> MCPServer:
    server = MCPServer(name)

    @server.tool(annotations=READ_ONLY)
    def read_note(name: str) -> str:
        """Read a note from the notes folder."""
        return (Path.cwd() / f"{name}.txt").read_text()

    @server.tool()
    def write_note(name: str, text: str) -> str:
        """Write a note into the notes folder."""
        (Path.cwd() / f"{name}.txt").write_text(text)
        return f"wrote {name}.txt"

    @server.tool(annotations=READ_ONLY)
    def picture() -> Image:
        """A small red picture."""
        from PIL import Image as PILImage

        out = io.BytesIO()
        PILImage.new("RGB", (40, 20), "red").save(out, "PNG")
        return Image(data=out.getvalue(), format="png")

    @server.tool(annotations=READ_ONLY)
    def nap(seconds: float) -> str:
        """Sleep, then answer."""
        time.sleep(seconds)
        return "awake"

    @server.tool()
    def crash() -> str:
        """End the server at once."""
        print("crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool(annotations=READ_ONLY)
    def word_count(text: str) -> int:
        """Count the words."""
        return len(text.split())

    @server.tool(name="word.count", annotations=READ_ONLY)
    def word_count_dotted(text: str) -> int:
        """Count the words (a second tool whose name clashes once dots become underscores)."""
        return len(text.split())

    @server.tool(annotations=READ_ONLY)
    def noise() -> str:
        """Write a line that is not JSON-RPC where the protocol runs, then answer."""
        print("this is not JSON-RPC", flush=True)
        return "still here"

    @server.tool(annotations=READ_ONLY)
    def flood() -> str:
        """A reply far longer than a result may be."""
        return "x" * 50_000

    return server


if __name__ == "__main__":
    print("notes server starting", file=sys.stderr, flush=True)
    build().run("stdio")
