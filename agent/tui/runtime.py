"""What the TUI needs from outside Textual: the approver bridge, git state, the theme."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path

from gemma_code.agent.host_git import GitRefused, host_repo
from gemma_code.agent.prompts import git_branch
from gemma_code.agent.protocols import ApprovalDecision, ApprovalRequest

INTERRUPTED = "the user interrupted before answering"


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


def _git(root: Path, *args: str) -> tuple[int, str, str]:
    """git in the workspace's repository as pinned at start, run so that it runs no program."""
    rc, out, err = host_repo(root).git(*args, timeout=10)
    return rc, out.decode("utf-8", errors="replace"), err


def git_state(root: Path) -> str:
    """`main`, `main*` when the tree has changes, or "" outside a git repository."""
    branch = git_branch(root)
    if branch is None:
        return ""
    try:
        _, status, _ = _git(root, "status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired, GitRefused):
        return ""
    name = branch
    if name == "HEAD":
        name = "detached"
    return name + ("*" if status.strip() else "")


def git_diff(root: Path) -> str:
    """The workspace's uncommitted changes as a unified diff, with untracked files named."""
    try:
        rc, diff, err = _git(root, "diff", "--no-color", "--no-ext-diff", "--no-textconv")
        _, status, _ = _git(root, "status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired, GitRefused) as exc:
        return f"git diff failed: {exc}"
    if rc != 0:
        return err.strip() or "git diff failed (is this a git repository?)"
    untracked = [line[3:] for line in status.splitlines() if line.startswith("??")]
    text = diff
    if untracked:
        text += "".join(f"untracked: {name}\n" for name in untracked)
    return text


def pick_theme() -> str:
    """GEMMA_CODE_THEME if set; light when the terminal says its background is light."""
    if chosen := os.environ.get("GEMMA_CODE_THEME"):
        return chosen
    background = os.environ.get("COLORFGBG", "").split(";")[-1]
    return "textual-light" if background in ("7", "15") else "textual-dark"
