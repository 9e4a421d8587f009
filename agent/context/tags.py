"""Definitions and references per file, read with tree-sitter, cached per file (mtime + size).

Each language has two small queries: definitions (`@name` inside the whole definition `@def`)
and references (`@ref`: the identifiers a file uses). Grammars come from PyPI wheels (loaded in
`tools/grammars.py`, shared with the edit tools); a file in a language without one is listed by
path only.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from gemma_code.backends.cache_dir import user_cache_dir
from gemma_code.tools.grammars import MAX_FILE_BYTES, grammar, language_of

MAX_SIGNATURE = 160
CACHE_VERSION = 1

_PY_DEFS = """
(function_definition name: (identifier) @name) @def
(class_definition name: (identifier) @name) @def
(module (expression_statement (assignment left: (identifier) @name)) @def)
"""
_JS_DEFS = """
(function_declaration name: (identifier) @name) @def
(generator_function_declaration name: (identifier) @name) @def
(class_declaration name: (_) @name) @def
(method_definition name: (property_identifier) @name) @def
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @def
"""
_TS_DEFS = _JS_DEFS + """
(interface_declaration name: (type_identifier) @name) @def
(type_alias_declaration name: (type_identifier) @name) @def
(enum_declaration name: (identifier) @name) @def
(abstract_class_declaration name: (type_identifier) @name) @def
"""
_GO_DEFS = """
(function_declaration name: (identifier) @name) @def
(method_declaration name: (field_identifier) @name) @def
(type_spec name: (type_identifier) @name) @def
"""
_RUST_DEFS = """
(function_item name: (identifier) @name) @def
(struct_item name: (type_identifier) @name) @def
(enum_item name: (type_identifier) @name) @def
(trait_item name: (type_identifier) @name) @def
(macro_definition name: (identifier) @name) @def
"""
_BASH_DEFS = "(function_definition name: (word) @name) @def"

# language: (definitions query, references query)
_QUERIES = {
    "python": (_PY_DEFS, "(identifier) @ref"),
    "javascript": (_JS_DEFS, "[(identifier) (property_identifier)] @ref"),
    "typescript": (_TS_DEFS, "[(identifier) (property_identifier) (type_identifier)] @ref"),
    "tsx": (_TS_DEFS, "[(identifier) (property_identifier) (type_identifier)] @ref"),
    "go": (_GO_DEFS, "[(identifier) (field_identifier) (type_identifier)] @ref"),
    "rust": (_RUST_DEFS, "[(identifier) (field_identifier) (type_identifier)] @ref"),
    "bash": (_BASH_DEFS, "(command_name (word) @ref)"),
}
BINARY_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .webp .bmp .ico .pdf .zip .gz .tgz .bz2 .xz .7z .tar .whl .so .dylib "
    ".dll .exe .o .a .pyc .pyo .class .jar .woff .woff2 .ttf .otf .mp3 .mp4 .wav .mov .gguf "
    ".bin .safetensors .npy .npz .pt .sqlite .db".split()
)


@dataclass(frozen=True)
class Definition:
    name: str
    line: int  # 1-based, where the definition starts
    end: int  # its last line
    signature: str  # the definition's first line


@dataclass
class FileTags:
    """What the map knows of one file; `parsed` is False for a file listed by path only."""

    parsed: bool
    defs: list[Definition] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)  # identifier: times used


class _Grammars:
    """Languages, parsers and compiled queries, made on first use and kept."""

    def __init__(self) -> None:
        self._made: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def get(self, language: str) -> tuple | None:
        with self._lock:
            if language not in self._made:
                self._made[language] = self._make(language)
            return self._made[language]

    @staticmethod
    def _make(language: str) -> tuple | None:
        import tree_sitter as ts

        loaded = grammar(language)
        if loaded is None:
            return None  # its wheel is missing: files in it are listed by path only
        defs, refs = _QUERIES[language]
        return ts.Parser(loaded), ts.Query(loaded, defs), ts.Query(loaded, refs)


GRAMMARS = _Grammars()


def parse_tags(data: bytes, language: str) -> FileTags:
    """The definitions and references in `data`; a syntax error only loses what it breaks."""
    import tree_sitter as ts

    made = GRAMMARS.get(language)
    if made is None:
        return FileTags(parsed=False)
    parser, defs_query, refs_query = made
    tree = parser.parse(data)
    lines = data.split(b"\n")
    found: list[Definition] = []
    for _, captures in ts.QueryCursor(defs_query).matches(tree.root_node):
        name, node = captures.get("name"), captures.get("def")
        if not name or not node:
            continue
        row = node[0].start_point[0]
        signature = lines[row].decode("utf-8", errors="replace").strip()[:MAX_SIGNATURE]
        found.append(Definition(_text(name[0]), row + 1, node[0].end_point[0] + 1, signature))
    refs: dict[str, int] = {}
    for node in ts.QueryCursor(refs_query).captures(tree.root_node).get("ref", []):
        word = _text(node)
        refs[word] = refs.get(word, 0) + 1
    for definition in found:  # a definition's own name is not a use of it
        if refs.get(definition.name, 0) > 1:
            refs[definition.name] -= 1
        else:
            refs.pop(definition.name, None)
    return FileTags(parsed=True, defs=sorted(found, key=lambda d: d.line), refs=refs)


def _text(node) -> str:
    return node.text.decode("utf-8", errors="replace")


def read_tags(path: Path) -> FileTags | None:
    """Tags of one file: None for a binary file (left out of the map), unparsed for others."""
    language = language_of(path.name)
    if path.suffix.lower() in BINARY_SUFFIXES:
        return None
    try:
        size = path.stat().st_size
        if language is None or size > MAX_FILE_BYTES:
            return FileTags(parsed=False)
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if b"\0" in data[:8192]:
        return None
    return parse_tags(data, language)


def cache_dir() -> Path:
    return user_cache_dir() / "tags"


class TagCache:
    """Tags of a workspace's files kept on disk in one JSON file, each entry keyed by the
    file's mtime and size; a damaged or old cache is rebuilt, never trusted."""

    def __init__(self, root: Path, directory: Path | None = None) -> None:
        key = hashlib.sha256(str(root).encode("utf-8", errors="replace")).hexdigest()[:20]
        self.path = (directory or cache_dir()) / f"{key}.json"
        self._entries: dict[str, list] = self._load()
        self._decoded: dict[str, tuple[list, FileTags | None]] = {}  # rel: (stamp, tags)
        self._changed = False

    def _load(self) -> dict[str, list]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}

    def tags(self, path: Path, rel: str) -> FileTags | None:
        try:
            stat = path.stat()
        except (OSError, ValueError):
            return None
        stamp = [stat.st_mtime_ns, stat.st_size]
        decoded = self._decoded.get(rel)
        if decoded and decoded[0] == stamp:
            return decoded[1]
        entry = self._entries.get(rel)
        if entry and entry[:2] == stamp:
            tags = _from_json(entry[2])
        else:
            tags = read_tags(path)
            self._entries[rel] = [*stamp, _to_json(tags)]
            self._changed = True
        self._decoded[rel] = (stamp, tags)
        return tags

    def known(self) -> list[str]:
        return list(self._entries)

    def save(self, keep: set[str]) -> None:
        """Write the cache (only the files still there) when anything changed; best effort."""
        gone = set(self._entries) - keep
        if not self._changed and not gone:
            return
        for rel in gone:
            del self._entries[rel]
            self._decoded.pop(rel, None)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": self._entries}),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only cache directory only costs the next map its speed
        self._changed = False


def _to_json(tags: FileTags | None) -> list | None:
    if tags is None:
        return None
    return [tags.parsed, [[d.name, d.line, d.end, d.signature] for d in tags.defs], tags.refs]


def _from_json(raw: list | None) -> FileTags | None:
    if raw is None:
        return None
    try:
        parsed, defs, refs = raw
        return FileTags(bool(parsed), [Definition(*d) for d in defs], dict(refs))
    except (TypeError, ValueError):
        return FileTags(parsed=False)


_OPEN: dict[Path, TagCache] = {}  # one per workspace and cache file, kept for later turns


def shared_cache(root: Path) -> TagCache:
    cache = _OPEN.get(root)
    if cache is None or cache.path.parent != cache_dir():
        cache = _OPEN[root] = TagCache(root)
    return cache


def workspace_tags(root: Path, files: list[Path], cache: TagCache | None = None,
                   cancel: threading.Event | None = None) -> dict[str, FileTags]:
    """Tags of each file (relative path: tags), binaries left out; the cache saved after.
    Cancelled, it stops early and keeps what it has read (the cache too)."""
    cache = cache or shared_cache(root)
    prefix = len(str(root).rstrip(os.sep)) + 1
    index: dict[str, FileTags] = {}
    listed = set()
    for number, path in enumerate(files):
        if cancel is not None and number % 256 == 0 and cancel.is_set():
            break
        rel = str(path)[prefix:].replace(os.sep, "/")
        listed.add(rel)
        tags = cache.tags(path, rel)
        if tags is not None:
            index[rel] = tags
    cache.save(listed | set(cache.known()) if len(listed) < len(files) else listed)
    return index
