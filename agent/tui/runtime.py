"""What the TUI needs from outside Textual: the approver bridge, model opening, git state."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gemma_code.agent.config import Settings
from gemma_code.agent.prompts import git_branch
from gemma_code.agent.protocols import ApprovalDecision, ApprovalRequest, Backend

INTERRUPTED = "the user interrupted before answering"


class Notice(Protocol):
    """Receives one-line status messages while a model loads (and, optionally, progress)."""

    def __call__(self, text: str) -> None: ...


BackendOpener = Callable[[Settings, Notice], Backend]


class QueueApprover:
    """The Approver the TUI gives the session.

    `decide` runs on the worker thread and blocks until the UI thread calls `answer`,
    or until the session's cancel event is set (Esc, quitting): then it denies.
    """

    def __init__(self) -> None:
        self._answers: queue.Queue[ApprovalDecision] = queue.Queue()
        self.cancel: threading.Event | None = None

    def decide(self, request: ApprovalRequest) -> ApprovalDecision:
        while True:
            try:
                return self._answers.get(timeout=0.05)
            except queue.Empty:
                if self.cancel is not None and self.cancel.is_set():
                    return ApprovalDecision(approved=False, note=INTERRUPTED)

    def answer(self, decision: ApprovalDecision) -> None:
        self._answers.put(decision)

    def reset(self) -> None:
        """Drop answers nobody waited for (a turn that ended while a prompt was open)."""
        while not self._answers.empty():
            self._answers.get_nowait()


def open_backend_with_progress(settings: Settings, notice: Notice) -> Backend:
    """The real opener: a bundled model's first-run assembly reports to the notice's bar."""
    from gemma_code.backends.factory import open_backend

    return open_backend(settings, notice=notice, progress=getattr(notice, "progress", None))


def auto_model_name() -> str:
    """What `--model auto` loads, by name."""
    from gemma_code.backends.registry import ModelError, auto_spec

    try:
        return auto_spec().name
    except ModelError:
        return "auto"


def model_label(settings: Settings, backend: Backend | None) -> str:
    """The model's name as people know it: the registry name, or the file's name."""
    if settings.model == "auto":
        return auto_model_name()
    if "/" in settings.model or settings.model.endswith((".gguf", ".json")):
        return Path(settings.model).name
    return settings.model


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=10,
        stdin=subprocess.DEVNULL,
    )


def git_state(root: Path) -> str:
    """`main`, `main*` when the tree has changes, or "" outside a git repository."""
    branch = git_branch(root)
    if branch is None:
        return ""
    try:
        status = _git(root, "status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    name = branch
    if name == "HEAD":
        name = "detached"
    return name + ("*" if status.stdout.strip() else "")


def git_diff(root: Path) -> str:
    """The workspace's uncommitted changes as a unified diff, with untracked files named."""
    try:
        diff = _git(root, "--no-pager", "diff", "--no-color", "--no-ext-diff")
        status = _git(root, "status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"git diff failed: {exc}"
    if diff.returncode != 0:
        return diff.stderr.strip() or "git diff failed (is this a git repository?)"
    untracked = [line[3:] for line in status.stdout.splitlines() if line.startswith("??")]
    text = diff.stdout
    if untracked:
        text += "".join(f"untracked: {name}\n" for name in untracked)
    return text


def pick_theme() -> str:
    """GEMMA_CODE_THEME if set; light when the terminal says its background is light."""
    if chosen := os.environ.get("GEMMA_CODE_THEME"):
        return chosen
    background = os.environ.get("COLORFGBG", "").split(";")[-1]
    return "textual-light" if background in ("7", "15") else "textual-dark"
