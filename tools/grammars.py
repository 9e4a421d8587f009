"""Which tree-sitter grammar reads a file, and the grammar itself, loaded once.

Shared by the repo map (`agent/context/tags.py`) and the edit tools' syntax guard. Grammars
come from the per-language PyPI wheels, never fetched at run time; a language whose wheel is
missing has no grammar, and its files are not parsed.
"""

from __future__ import annotations

import importlib
import os
import threading

MAX_FILE_BYTES = 1_000_000  # larger files (minified bundles, data) are not parsed

# language: (module, function in it returning the grammar)
_MODULES = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "bash": ("tree_sitter_bash", "language"),
}
SUFFIXES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript", ".tsx": "tsx", ".go": "go", ".rs": "rust", ".sh": "bash",
    ".bash": "bash",
}

_loaded: dict[str, object] = {}
_lock = threading.Lock()


def language_of(path: str) -> str | None:
    """The language of a file, from its name; None for one no grammar reads."""
    return SUFFIXES.get(os.path.splitext(path)[1].lower())


def grammar(language: str):
    """The `tree_sitter.Language` of `language`, or None when its wheel is missing."""
    with _lock:
        if language not in _loaded:
            _loaded[language] = _load(language)
        return _loaded[language]


def parser(language: str):
    """A new `tree_sitter.Parser` for `language` (cheap; one per caller keeps threads apart),
    or None when it has no grammar."""
    import tree_sitter as ts

    loaded = grammar(language)
    return ts.Parser(loaded) if loaded is not None else None


def _load(language: str):
    import tree_sitter as ts

    module_name, function = _MODULES[language]
    try:
        return ts.Language(getattr(importlib.import_module(module_name), function)())
    except (ImportError, AttributeError, ValueError):
        return None
