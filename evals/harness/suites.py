"""Task suites on disk (the format is evals/suites/FORMAT.md)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
CHECK_TIMEOUT = 120.0


class SuiteError(Exception):
    """A suite or task that cannot be used; the message says which and why."""


class RepoTask(BaseModel):
    """A repository, a prompt as a person would type it, and a hidden check."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    suite: str
    folder: Path
    prompt: str
    difficulty: Literal["easy", "medium", "hard"]
    language: str = "python"
    check: str
    image: str | None = None
    timeout: float | None = Field(None, gt=0)
    tags: tuple[str, ...] = ()

    @property
    def repo(self) -> Path:
        return self.folder / "repo"

    @property
    def hidden(self) -> Path:
        return self.folder / "hidden"

    @property
    def solution(self) -> Path:
        return self.folder / "solution"

    @property
    def image_path(self) -> Path | None:
        return self.folder / self.image if self.image else None


class ToolExpect(BaseModel):
    """One acceptable first call: the tool, exact argument values, and argument patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str
    args: dict[str, object] = Field(default_factory=dict)
    match: dict[str, str] = Field(default_factory=dict)

    @field_validator("match")
    @classmethod
    def _patterns_compile(cls, match: dict[str, str]) -> dict[str, str]:
        for key, pattern in match.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match.{key}: {exc}") from exc
        return match


class ToolTask(BaseModel):
    """A single-turn prompt whose first tool call is graded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    suite: str
    folder: Path  # the suite's folder; its repo/ is where every prompt runs
    prompt: str
    expect: tuple[ToolExpect, ...] = Field(min_length=1)

    @property
    def repo(self) -> Path:
        return self.folder / "repo"


Task = RepoTask | ToolTask


def suite_names(root: Path = SUITES_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_tool_suite(name: str, root: Path = SUITES_DIR) -> bool:
    return (root / name / "tasks.toml").is_file()


def load_suite(name: str, only: list[str] | None = None, root: Path = SUITES_DIR) -> list[Task]:
    """The suite's tasks; `only` keeps the named ones (unknown names are an error)."""
    folder = root / name
    if not folder.is_dir():
        raise SuiteError(f"no suite {name!r} in {root}; suites: {', '.join(suite_names(root))}")
    tasks = _load_tool_tasks(folder) if is_tool_suite(name, root) else _load_repo_tasks(folder)
    if only:
        known = {task.id for task in tasks}
        unknown = [task_id for task_id in only if task_id not in known]
        if unknown:
            raise SuiteError(f"suite {name!r} has no task {', '.join(unknown)}")
        tasks = [task for task in tasks if task.id in only]
    return tasks


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(f"{path}: {exc}") from exc


def _load_repo_tasks(suite: Path) -> list[Task]:
    name = suite.name
    tasks = []
    for folder in sorted(suite.iterdir()):
        if not (folder / "task.toml").is_file():
            continue
        data = _read_toml(folder / "task.toml")
        try:
            task = RepoTask(id=folder.name, suite=name, folder=folder, **data)
        except ValueError as exc:
            raise SuiteError(f"{folder / 'task.toml'}: {exc}") from exc
        if not task.repo.is_dir():
            raise SuiteError(f"{folder}: no repo/ folder")
        if task.image_path and not task.image_path.is_file():
            raise SuiteError(f"{folder}: image {task.image} not found")
        tasks.append(task)
    if not tasks:
        raise SuiteError(f"suite {name!r} has no tasks")
    return tasks


def _load_tool_tasks(suite: Path) -> list[Task]:
    path = suite / "tasks.toml"
    tasks = []
    for entry in _read_toml(path).get("task", []):
        try:
            tasks.append(ToolTask(suite=suite.name, folder=suite, **entry))
        except ValueError as exc:
            raise SuiteError(f"{path}: task {entry.get('id', '?')}: {exc}") from exc
    ids = [task.id for task in tasks]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{path}: task ids repeat")
    return tasks
