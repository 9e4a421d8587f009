"""Fresh task repositories and hidden checks.

The agent works in a throwaway git repository holding only the task's `repo/`. The check runs
in a separate copy of that work with `hidden/` laid over it, so the hidden files never appear
where an agent (or its next try) could read them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .processes import run_logged
from .suites import CHECK_TIMEOUT, RepoTask

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "evals", "GIT_AUTHOR_EMAIL": "evals@localhost",
    "GIT_COMMITTER_NAME": "evals", "GIT_COMMITTER_EMAIL": "evals@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}
# Agents and tools leave these behind; they are not part of the work being checked.
_SCRATCH = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", ".aider*", "node_modules")


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **_GIT_ENV}
    done = subprocess.run(["git", "-C", str(root), *args], env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout


def commit_all(root: Path, message: str) -> None:
    """Make `root` a git repository (branch main) whose one commit holds every file in it."""
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def prepare(task: RepoTask, dest: Path) -> Path:
    """Copy the task's repository to `dest` (which must not exist) and commit it."""
    shutil.copytree(task.repo, dest, ignore=shutil.ignore_patterns("__pycache__"))
    commit_all(dest, "task start")
    return dest


# Files agents keep for themselves; they do not count as changes to the task's code.
_BOOKKEEPING = (".aider", ".gitignore")


def changed_files(work: Path) -> list[str]:
    """Files that differ from the task's start (committed by the agent or not), new ones included."""
    tracked = git(work, "diff", "--name-only", _start(work)).splitlines()
    new = git(work, "ls-files", "--others", "--exclude-standard").splitlines()
    return sorted(name for name in {*tracked, *new} if not name.startswith(_BOOKKEEPING))


def _start(work: Path) -> str:
    return git(work, "rev-list", "--max-parents=0", "HEAD").split()[0]


def overlay(source: Path, dest: Path) -> None:
    """Copy every file under `source` to the same place under `dest`, replacing what is there."""
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)


def with_project_python(env: dict[str, str]) -> dict[str, str]:
    """`env` with the harness's interpreter first on PATH, as in a shell where the project's
    environment is active: `python`, `python -m pytest` and `pytest` are the ones the checks use."""
    bin_dir = str(Path(sys.executable).parent)
    return {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", "")}


def check_environment() -> dict[str, str]:
    """The environment checks run in: `python` is the harness's own interpreter."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GEMMA_CODE_")}
    return {**with_project_python(env), "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    output: str  # the tail of what the check printed
    seconds: float


def run_check(task: RepoTask, work: Path, scratch: Path) -> CheckResult:
    """Run the hidden check on a copy of `work` with `hidden/` over it, in `scratch`."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(work, scratch, ignore=_SCRATCH)
    overlay(task.hidden, scratch)
    out, err = scratch.parent / "check.out", scratch.parent / "check.err"
    try:
        finished = run_logged(["bash", "-c", task.check], scratch, check_environment(),
                              CHECK_TIMEOUT, out, err)
        output = out.read_text(errors="replace") + err.read_text(errors="replace")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        out.unlink(missing_ok=True)
        err.unlink(missing_ok=True)
    if finished.timed_out:
        output += f"\n[check stopped after {CHECK_TIMEOUT:.0f} s]"
    passed = finished.exit_code == 0
    return CheckResult(passed, output[-4000:], finished.seconds)
