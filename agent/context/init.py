"""`gemma-code init` and `/init`: the turn that asks the model to write (or improve) AGENTS.md.

It is a normal turn: a built-in prompt (agent/prompts.py) with the detected test command,
and, ahead of it as notes, the repository's key files (README, build and test config, other
agents' instruction files) and, when the conversation's first message is past, the repo map.
The first message gets the map and the current AGENTS.md from `add_context` as every first
message does. Files given whole count as read, so the model can rewrite AGENTS.md at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..messages import UserMessage
from ..prompts import init_prompt
from ..verify import find_test_command
from . import budgets
from .agents_md import MAX_BYTES as AGENTS_MAX
from .agents_md import NAME as AGENTS_NAME
from .agents_md import agents_files
from .prepare import load_index, repo_map, token_counter

# Read in this order while the budget lasts: other agents' instructions, then what says what
# the project is, then how it builds, tests and lints.
KEY_FILES = (
    "CLAUDE.md", "GEMINI.md", ".cursorrules", ".windsurfrules", ".github/copilot-instructions.md",
    "CONVENTIONS.md", "README.md", "README.rst", "README.txt", "README", "CONTRIBUTING.md",
    "pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "pytest.ini", "noxfile.py",
    "package.json", "tsconfig.json", "Makefile", "justfile", "Cargo.toml", "go.mod",
    "CMakeLists.txt", "pom.xml", "build.gradle", "build.gradle.kts", "Gemfile", "composer.json",
    "deno.json", ".pre-commit-config.yaml", "ruff.toml", ".editorconfig",
)
WORKFLOWS = ".github/workflows"  # CI says how the project is really tested and linted
MAX_FILE_BYTES = 6_000  # one key file's share; a longer one is cut at a line and said so


@dataclass(frozen=True)
class KeyFile:
    """A file given to the model: its text (maybe cut) and, when whole, its digest."""

    path: str
    text: str
    digest: str | None  # None: cut, so it does not count as read


@dataclass
class InitRequest:
    """The init turn: the prompt the person sees, the notes ahead of it, what counts as read."""

    prompt: str
    notes: list[str] = field(default_factory=list)
    read: dict[Path, str] = field(default_factory=dict)  # path -> digest, counted as read
    test_command: str | None = None

    def apply(self, session) -> UserMessage:
        """Queue the notes and the reads on `session`; the message to run as its next turn."""
        session.model_notes.extend(self.notes)
        session.agent.ctx.seen.update(self.read)
        return UserMessage.of(self.prompt)


def read_key_file(root: Path, rel: str, limit: int = MAX_FILE_BYTES) -> KeyFile | None:
    """`rel` as text, cut at `limit` bytes; None when it is missing, a link, binary or unreadable."""
    path = root / rel
    try:
        if path.is_symlink() or not path.is_file():
            return None
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    if len(data) <= limit:
        return KeyFile(rel, data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest())
    text = data[:limit].decode("utf-8", errors="replace").rsplit("\n", 1)[0]
    return KeyFile(rel, f"{text}\n[... cut here: {rel} goes on; read_file shows the rest]", None)


def key_file_names(root: Path) -> list[str]:
    """The key files this workspace has, in KEY_FILES order, then up to two CI workflows."""
    names = [rel for rel in KEY_FILES if (root / rel).is_file()]
    try:
        flows = sorted(p.name for p in (root / WORKFLOWS).iterdir() if p.suffix in (".yml", ".yaml"))
    except OSError:
        flows = []
    return names + [f"{WORKFLOWS}/{name}" for name in flows[:2]]


def key_files(root: Path, budget: int, count_tokens) -> tuple[list[KeyFile], list[str]]:
    """(the key files that fit in `budget` tokens, the names of those left out; none at 0)."""
    if budget <= 0:
        return [], []
    given, left, used = [], [], 0
    for rel in key_file_names(root):
        found = read_key_file(root, rel)
        if found is None:
            continue
        cost = count_tokens(found.text)
        if used + cost > budget:
            left.append(rel)
            continue
        given.append(found)
        used += cost
    return given, left


def files_note(given: list[KeyFile], left: list[str]) -> str:
    """The key files as one note for the model, each as an `@path` mention (so the context
    step counts it as read and does not attach it a second time)."""
    parts = ["Key files of this repository (whole unless cut):"]
    parts += [f"@{f.path}\n```\n{f.text.rstrip()}\n```" for f in given]
    if left:
        parts.append(f"Not shown (no room; read_file them if you need them): {', '.join(left)}")
    return "\n\n".join(parts)


def current_agents_md(root: Path, agent) -> KeyFile | None:
    """The root AGENTS.md when this turn's `add_context` will not show it (the conversation
    has it already, maybe older): then the notes carry it as it is now."""
    given = "\n".join(m.text for m in agent.messages if isinstance(m, UserMessage))
    if any(rel == AGENTS_NAME for rel, _, _ in agents_files(root, [], given)):
        return None
    return read_key_file(root, AGENTS_NAME, AGENTS_MAX)


def agents_md_read(root: Path) -> dict[Path, str]:
    """AGENTS.md counted as read when the model has it whole (its digest), else nothing."""
    found = read_key_file(root, AGENTS_NAME, AGENTS_MAX)
    return {root / AGENTS_NAME: found.digest} if found and found.digest else {}


def map_note(root: Path, agent, budget: int) -> str:
    """The repo map, when the conversation's first message is past (`add_context` gives the
    first its map, so it is not given twice); "" otherwise or when the budget is 0."""
    if budget <= 0 or not any(isinstance(m, UserMessage) for m in agent.messages):
        return ""
    index = load_index(root, cancel=agent.ctx.cancel)
    return repo_map(index, "", budget, token_counter(agent.backend))


def init_request(root: Path, settings: Settings, agent, request: str = "") -> InitRequest:
    """The init turn for `agent`'s conversation in the workspace `root`."""
    root = Path(root).resolve()
    test = find_test_command(root, settings.test_command)
    exists = (root / AGENTS_NAME).is_file()
    result = InitRequest(prompt=init_prompt(test.command if test else None, exists, request),
                         test_command=test.command if test else None)
    map_tokens, files_tokens = budgets(settings, agent.backend.context_size, agent.backend.profile)
    if shown := map_note(root, agent, map_tokens):
        result.notes.append(shown)
    if current := current_agents_md(root, agent) if exists else None:
        result.notes.append(f"AGENTS.md as it is now:\n```markdown\n{current.text.rstrip()}\n```")
    given, left = key_files(root, files_tokens, token_counter(agent.backend))
    if given or left:
        result.notes.append(files_note(given, left))
    result.read.update({root / f.path: f.digest for f in given if f.digest})
    result.read.update(agents_md_read(root) if exists else {})
    return result
