"""AGENTS.md: the project's instructions for agents, from the workspace root down to the
folders of the files in play, each given once per conversation and capped in size."""

from __future__ import annotations

from pathlib import Path

NAME = "AGENTS.md"
MAX_BYTES = 8_000  # one file's share; a longer one is cut, and the model and person told
MARK = "Project instructions from "  # starts each block; a later turn looks for it


def folders_down_to(rels: list[str]) -> list[str]:
    """"" (the root), then each folder on the way to each file, without repeats."""
    found = [""]
    for rel in rels:
        parts = rel.split("/")[:-1]
        found += ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return list(dict.fromkeys(found))


def agents_files(root: Path, in_play: list[str], given: str) -> list[tuple[str, str, bool]]:
    """(path, text, cut) of each AGENTS.md not yet in the conversation (`given`: its text)."""
    found = []
    for folder in folders_down_to(in_play):
        rel = f"{folder}/{NAME}" if folder else NAME
        if f"{MARK}{rel}" in given:
            continue
        path = root / rel
        try:
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError:
            continue
        if b"\0" in data:
            continue
        cut = len(data) > MAX_BYTES
        text = data[:MAX_BYTES].decode("utf-8", errors="replace")
        if cut:
            text = text.rsplit("\n", 1)[0] + (
                f"\n[... cut here: {rel} is longer than {MAX_BYTES} bytes; read_file shows the rest]")
        found.append((rel, text, cut))
    return found


def block(rel: str, text: str) -> str:
    return f"{MARK}{rel} (follow them):\n{text.rstrip()}"
