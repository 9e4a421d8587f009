"""The repo map: the workspace's files with the signatures of their most relevant definitions,
ranked by PageRank over the graph of which file uses which file's names, fitted to a budget.

The ranking leans toward what the task is about: files and identifiers the prompt names,
and the files already in play, weigh more (PageRank's personalisation and edge weights).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .tags import FileTags

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A name defined in more files than this (`save`, `run`, `__init__`) says nothing about which
# file is meant, and would add a quadratic number of edges: it is left out of the graph.
MAX_DEFINERS = 20
HEADER = ("Repository map: files with the first line of their most relevant definitions "
          "(`N:` is the line number; read a file with read_file before changing it).")


@dataclass(frozen=True)
class Focus:
    """What the task points at: relative paths in play and identifiers it names."""

    files: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, text: str, files: Iterable[str] = ()) -> Focus:
        return cls(frozenset(files), frozenset(w for w in _WORD.findall(text) if len(w) >= 3))


@dataclass(frozen=True)
class Entry:
    path: str
    line: int = 0  # 0: the file by path only
    signature: str = ""


@dataclass
class _Graph:
    defines: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # (referencing file, defining file) -> {identifier: weight}
    edges: dict[tuple[str, str], dict[str, float]] = field(default_factory=lambda: defaultdict(dict))


def _name_weight(name: str, focus: Focus, defined_in: int) -> float:
    weight = 1.0
    if name in focus.names:
        weight *= 10  # the task names it
    if len(name) >= 8 and ("_" in name.strip("_") or not name.islower()):
        weight *= 10  # a long, specific identifier says more than `run` or `get`
    if name.startswith("_"):
        weight *= 0.1
    if defined_in > 5:
        weight *= 0.1  # defined everywhere: says little about which file is meant
    return weight


def _graph(index: dict[str, FileTags], focus: Focus) -> _Graph:
    graph = _Graph()
    for path, tags in index.items():
        for definition in tags.defs:
            graph.defines[definition.name].add(path)
    for path, tags in index.items():
        in_play = 50.0 if path in focus.files else 1.0
        for name, count in tags.refs.items():
            owners = graph.defines.get(name)
            if not owners or len(owners) > MAX_DEFINERS:
                continue
            weight = _name_weight(name, focus, len(owners)) * in_play * math.sqrt(count)
            for owner in owners:
                if owner != path:
                    graph.edges[(path, owner)][name] = weight
    return graph


def _personalization(index: dict[str, FileTags], focus: Focus, graph: _Graph) -> dict[str, float]:
    weights: dict[str, float] = {}
    stems = {name.lower() for name in focus.names}
    for path in index:
        base = path.rsplit("/", 1)[-1]
        if path in focus.files:
            weights[path] = weights.get(path, 0) + 10.0
        elif base.rsplit(".", 1)[0].lower() in stems:
            weights[path] = weights.get(path, 0) + 3.0
    for name in focus.names:
        for path in graph.defines.get(name, ()):
            weights[path] = weights.get(path, 0) + 3.0 / len(graph.defines[name])
    return weights


def _file_rank(index: dict[str, FileTags], focus: Focus
               ) -> tuple[_Graph, dict[str, float], dict[str, float]]:
    """(the graph, each file's PageRank, the personalisation the focus gave it)."""
    import networkx as nx

    graph = _graph(index, focus)
    digraph = nx.DiGraph()
    digraph.add_nodes_from(index)
    digraph.add_weighted_edges_from(
        (source, target, sum(names.values())) for (source, target), names in graph.edges.items())
    personal = _personalization(index, focus, graph)
    try:
        file_rank = nx.pagerank(digraph, weight="weight", personalization=personal or None)
    except nx.PowerIterationFailedConvergence:
        file_rank = {path: 1.0 / max(1, len(index)) for path in index}
    return graph, file_rank, personal


def rank(index: dict[str, FileTags], focus: Focus = Focus()) -> list[Entry]:
    """Every definition (and every file without one, by path), most relevant first."""
    graph, file_rank, _ = _file_rank(index, focus)
    return _entries(index, focus, graph, file_rank)


def ranked_files(index: dict[str, FileTags], focus: Focus) -> tuple[list[str], set[str]]:
    """(the files by rank, most relevant first; those the focus itself points to: a file
    named, or one whose name or definitions are words of the task)."""
    _, file_rank, personal = _file_rank(index, focus)
    order = sorted(index, key=lambda path: (-file_rank[path], path))
    return order, {path for path, weight in personal.items() if weight > 0}


def _entries(index: dict[str, FileTags], focus: Focus, graph: _Graph,
             file_rank: dict[str, float]) -> list[Entry]:
    """A definition's score is the rank its users pass along the edges that name it."""
    score: dict[tuple[str, str], float] = defaultdict(float)
    out_weight: dict[str, float] = defaultdict(float)
    for (source, _), names in graph.edges.items():
        out_weight[source] += sum(names.values())
    for (source, target), names in graph.edges.items():
        for name, weight in names.items():
            score[(target, name)] += file_rank[source] * weight / out_weight[source]
    scored: list[tuple[float, Entry]] = []
    for path, tags in index.items():
        if not tags.defs:
            scored.append((file_rank[path] * 1e-3, Entry(path)))
            continue
        for d in tags.defs:
            own = score.get((path, d.name), 0.0) + file_rank[path] * 1e-3 / len(tags.defs)
            if d.name in focus.names:
                own += 1.0
            scored.append((own, Entry(path, d.line, d.signature)))
    scored.sort(key=lambda item: (-item[0], item[1].path, item[1].line))
    return [entry for _, entry in scored]


def render(entries: list[Entry]) -> str:
    """Files in the order of their best entry; in each, its chosen definitions by line."""
    by_file: dict[str, list[Entry]] = {}
    for entry in entries:
        by_file.setdefault(entry.path, []).append(entry)
    lines = [HEADER]
    for path, chosen in by_file.items():
        lines.append(path)
        for entry in sorted((e for e in chosen if e.line), key=lambda e: e.line):
            lines.append(f"  {entry.line}: {entry.signature}")
    return "\n".join(lines)


def fit(entries: list[Entry], budget: int, count_tokens: Callable[[str], int]) -> str:
    """The longest prefix of `entries` whose rendering fits `budget` tokens ("" if none does)."""
    low, high, best = 1, min(len(entries), max(1, budget)), ""
    while low <= high:
        middle = (low + high) // 2
        text = render(entries[:middle])
        # no tokenizer packs 12 characters of code into one token; skip counting a sure miss
        if len(text) <= budget * 12 and count_tokens(text) <= budget:
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best
