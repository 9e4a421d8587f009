"""The local workspace: one directory the agent may read and write."""

from __future__ import annotations

import os
from pathlib import Path

from .protocols import ToolError


class LocalWorkspace:
    """A directory on disk. Paths resolve (symlinks included) inside `root` or are refused."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"workspace is not a directory: {root}")

    def resolve(self, path: str | Path, *, write: bool = False) -> Path:
        raw = Path(os.path.expanduser(str(path))) if str(path).startswith("~") else Path(path)
        candidate = raw if raw.is_absolute() else self.root / raw
        # resolve() follows every symlink that exists, so a link pointing out is caught too.
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.root):
            raise ToolError(
                f"{path} is outside the workspace ({self.root}); only files inside it can be used"
            )
        if write and ".git" in resolved.relative_to(self.root).parts:
            raise ToolError(f"{path} is inside .git; git internals cannot be written by file tools")
        return resolved

    def relative(self, path: Path) -> str:
        try:
            rel = Path(path).resolve().relative_to(self.root)
        except ValueError:
            return str(path)
        return rel.as_posix() or "."
