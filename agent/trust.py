"""Trust in a project's own settings, remembered per workspace root and content digest.

Settings that lower safety (`Settings` fields marked `lowers_safety`) are taken from a config
file inside the workspace (`.gemma-code.toml`, `[tool.gemma-code]` in `pyproject.toml`, or the
user's own file when the workspace holds it) only once the person trusts that content: with
`gemma-code trust` or the TUI's prompt. The store is a JSON file in the user's data dir, never
in the workspace; an entry holds the digest of the files' settings, so a change by the model,
a shell command or a pull drops the trust until it is given again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .config import Settings

TRUST_FILE_ENV = "GEMMA_CODE_TRUST_FILE"

# trusted: this content is trusted; new: never trusted; changed: trusted once, with other
# content; unusable: the store lies inside the workspace, where the agent could forge it.
TrustState = Literal["trusted", "new", "changed", "unusable"]


def trust_file() -> Path:
    """`GEMMA_CODE_TRUST_FILE`, else `<user data dir>/gemma-code/trusted-projects.json`."""
    override = os.environ.get(TRUST_FILE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("gemma-code")) / "trusted-projects.json"


def settings_digest(tables: list[tuple[str, dict[str, Any]]]) -> str:
    """The digest trust is keyed on: each file's name in the workspace and the settings it holds."""
    canonical = json.dumps(tables, sort_keys=True, default=str, ensure_ascii=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Ignored:
    """A setting that lowers safety, set by a workspace file the person has not trusted."""

    name: str
    value: Any
    origin: str

    @property
    def shown_value(self) -> str:
        return json.dumps(list(self.value) if isinstance(self.value, tuple) else self.value, default=str)

    def shown(self) -> str:
        return f"{self.name} = {self.shown_value}"


@dataclass(frozen=True)
class ProjectConfig:
    """The workspace's own config files, as trust sees them."""

    root: Path
    digest: str
    files: tuple[str, ...]  # each file relative to the root (`pyproject.toml [tool.gemma-code]`)
    state: TrustState
    why_unusable: str = ""

    @property
    def names(self) -> str:
        return " and ".join(self.files)


def untrusted_reason(project: ProjectConfig) -> str:
    """Why the project's settings that lower safety were not taken."""
    if project.state == "unusable":
        return project.why_unusable
    if project.state == "changed":
        return "it changed since you trusted it; `gemma-code trust` to trust it again"
    return "this project is not trusted; `gemma-code trust` shows them and asks"


def ignored_notice(project: ProjectConfig, ignored: tuple[Ignored, ...]) -> str:
    """One line: what was ignored, why, and how to trust it."""
    settings = ", ".join(i.shown() for i in ignored)
    return (f"ignored {settings} from {project.names}: settings that lower safety come from "
            f"a project only once you trust it ({untrusted_reason(project)})")


class TrustStore:
    """The projects the person trusts: workspace root -> digest of its config files' settings."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else trust_file()

    def unusable_for(self, root: Path) -> str:
        """Why this store cannot vouch for `root` ("" when it can)."""
        if self.path.resolve().is_relative_to(Path(root).resolve()):
            return (f"the trust store {self.path} lies inside the workspace, where the agent "
                    f"could write it; point {TRUST_FILE_ENV} elsewhere")
        return ""

    def _entries(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # missing or damaged: nothing is trusted
        projects = data.get("projects") if isinstance(data, dict) else None
        return projects if isinstance(projects, dict) else {}

    def state(self, root: Path, digest: str) -> TrustState:
        if self.unusable_for(root):
            return "unusable"
        entry = self._entries().get(str(Path(root).resolve()))
        if not isinstance(entry, dict):
            return "new"
        return "trusted" if entry.get("digest") == digest else "changed"

    def trust(self, project: ProjectConfig, ignored: tuple[Ignored, ...]) -> None:
        """Remember that the person trusts this project's config, as it is now."""
        if why := self.unusable_for(project.root):
            raise ValueError(why)
        entries = self._entries()
        entries[str(project.root.resolve())] = {
            "digest": project.digest, "files": list(project.files),
            "settings": {i.name: json.loads(json.dumps(i.value, default=str)) for i in ignored},
            "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        self._write(entries)

    def forget(self, root: Path) -> bool:
        entries = self._entries()
        if entries.pop(str(Path(root).resolve()), None) is None:
            return False
        self._write(entries)
        return True

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".trusted-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
            json.dump({"version": 1, "projects": entries}, out, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


@dataclass(frozen=True)
class TrustOffer:
    """What the TUI says at start about the workspace's config files, and what it may ask:
    to trust `ignored`, which then gives `settings` (None: there is nothing to ask)."""

    notices: tuple[str, ...]
    project: ProjectConfig | None = None
    ignored: tuple[Ignored, ...] = ()
    settings: Settings | None = None
    store: TrustStore | None = None

    def accept(self) -> None:
        if self.project is None or self.store is None:
            raise ValueError("there is nothing to trust")
        self.store.trust(self.project, self.ignored)
