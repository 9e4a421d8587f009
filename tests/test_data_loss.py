"""Nothing lost: gemma-code killed (SIGKILL) mid-write, mid-turn and mid-command, then undone.

Each case runs the real CLI with the scripted backend on a real git repository, kills it at a
chosen moment, checks that every file is either its old or its new content, and then that
`gemma-code undo` brings the repository back to where the turn started, while the user's own
staged changes and stash are left as they were.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gemma_code.tools.sandbox import detect_sandbox

from .conftest import git, marker_pids, run_cli, write_script

BIG = "new line\n" * 4_000_000  # 36 MB: a write that takes long enough to be killed inside


def tree(root: Path) -> dict[str, bytes]:
    """Every file of the work tree (not .git) with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def user_git_state(root: Path) -> dict[str, str]:
    return {
        "head": git(root, "rev-parse", "HEAD"),
        "staged": git(root, "diff", "--cached"),
        "stash": git(root, "stash", "list"),
        "branches": git(root, "branch", "-a"),
    }


def start_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gemma_code.agent.cli", *args], cwd=cwd, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60) -> None:
    """SIGKILL the process as soon as `ready()` holds; fail if it never does."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"gemma-code ended before the kill point: {err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("the kill point was never reached")
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def run_script(tmp_path: Path, repo: Path, env: dict[str, str], steps: list[dict],
               *extra: str) -> subprocess.Popen:
    script = write_script(tmp_path / f"script{time.monotonic_ns()}.json", steps)
    return start_cli(["run", "--backend", "scripted", "--model", str(script), "--approval",
                      "auto", *extra, "do the thing"], repo, env)


def undo(repo: Path, env: dict[str, str]) -> str:
    proc = run_cli(["undo"], repo, env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def leftover_processes(needle: str) -> list[int]:
    """Processes of the killed command still alive; killed here, since the test started them."""
    found = marker_pids(needle)
    for pid in found:  # ours (the test started them): do not leave them behind
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return found


@pytest.fixture(autouse=True)
def _blind_writes(isolated_env: dict[str, str]) -> None:
    """These scripts write files they never read: the edit guards would stop them first."""
    isolated_env["GEMMA_CODE_EDIT_GUARDS"] = "false"


@pytest.fixture
def user_work(repo: Path) -> Path:
    """The repo with a staged change and a stash of the user's own, which must survive."""
    (repo / "notes.txt").write_text("stash me\n")
    git(repo, "add", "notes.txt")
    git(repo, "stash", "push", "-q", "-m", "user stash")
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    git(repo, "add", ".gitignore")
    return repo


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_killed_in_the_middle_of_a_write(tmp_path: Path, user_work: Path, isolated_env, delay):
    before, state = tree(user_work), user_git_state(user_work)
    old = (user_work / "calc.py").read_bytes()
    proc = run_script(tmp_path, user_work, isolated_env, [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": BIG}}]},
        {"text": "done"},
    ])

    def writing() -> bool:
        if not any(p.name.startswith(".calc.py.") for p in user_work.iterdir()):
            return False
        time.sleep(delay)
        return True

    kill_when(proc, writing)
    assert (user_work / "calc.py").read_bytes() in (old, BIG.encode())
    undo(user_work, isolated_env)
    assert tree(user_work) == before  # the temp file the kill left behind is gone too
    assert user_git_state(user_work) == state


def test_killed_in_the_middle_of_a_multi_file_turn(tmp_path: Path, user_work: Path,
                                                   isolated_env):
    before, state = tree(user_work), user_git_state(user_work)
    marker = f"{time.time_ns() % 100_000}.5"
    proc = run_script(tmp_path, user_work, isolated_env, [
        {"tool_calls": [{"name": "write_file",
                         "arguments": {"path": "pkg/new.py", "content": "X = 1\n"}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {
            "path": "calc.py", "old": "return a - b", "new": "return a + b"}}]},
        {"tool_calls": [{"name": "run_shell",
                         "arguments": {"command": f"touch started && sleep {marker}"}}]},
        {"text": "done"},
    ])
    kill_when(proc, (user_work / "started").exists)
    assert (user_work / "pkg" / "new.py").read_text() == "X = 1\n"
    assert (user_work / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"

    out = undo(user_work, isolated_env)
    assert "calc.py" in out and "pkg/new.py" in out
    assert tree(user_work) == before
    assert not (user_work / "pkg").exists()
    assert user_git_state(user_work) == state
    if detect_sandbox() is not None:
        assert leftover_processes(f"sleep\0{marker}") == []
    else:
        leftover_processes(f"sleep\0{marker}")  # unconfined: only bash dies with its parent


def test_killed_in_the_middle_of_a_shell_command(tmp_path: Path, user_work: Path, isolated_env):
    before, state = tree(user_work), user_git_state(user_work)
    status = git(user_work, "status", "--porcelain")
    marker = f"{time.time_ns() % 100_000}.25"
    command = ("sed -i 's/a - b/a + b/' calc.py && git mv test_calc.py test_sum.py && "
               f"echo partial > out.txt && touch started && sleep {marker} && echo more >> out.txt")
    proc = run_script(tmp_path, user_work, isolated_env, [
        {"tool_calls": [{"name": "run_shell", "arguments": {"command": command}}]},
        {"text": "done"},
    ])
    kill_when(proc, (user_work / "started").exists)
    assert (user_work / "out.txt").read_text() == "partial\n"
    assert (user_work / "test_sum.py").exists() and not (user_work / "test_calc.py").exists()

    undo(user_work, isolated_env)
    assert tree(user_work) == before
    assert user_git_state(user_work) == state
    assert git(user_work, "status", "--porcelain") == status  # the agent's `git mv` is undone
    leftover_processes(f"sleep\0{marker}")


def test_undo_after_shell_edits_and_repeated_undo(tmp_path: Path, user_work: Path, isolated_env):
    start, state = tree(user_work), user_git_state(user_work)
    status = git(user_work, "status", "--porcelain")
    first = run_script(tmp_path, user_work, isolated_env, [
        {"tool_calls": [{"name": "run_shell", "arguments": {
            "command": "sed -i 's/a - b/a + b/' calc.py && git mv test_calc.py test_sum.py"}}]},
        {"text": "fixed and renamed"},
    ])
    assert first.wait(120) == 0, first.stderr.read().decode()
    after_first = tree(user_work)
    second = run_script(tmp_path, user_work, isolated_env, [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "README.md"}}]},
        {"tool_calls": [{"name": "write_file",
                         "arguments": {"path": "README.md", "content": "# calc\n"}}]},
        {"text": "documented"},
    ])
    assert second.wait(120) == 0, second.stderr.read().decode()
    assert "changed README.md" in second.stderr.read().decode()

    listed = run_cli(["checkpoints", "--json"], user_work, isolated_env)
    checkpoints = json.loads(listed.stdout)
    assert [c["files"] for c in checkpoints] == [["README.md"],
                                                 ["calc.py", "test_calc.py", "test_sum.py"]]

    undo(user_work, isolated_env)
    assert tree(user_work) == after_first
    undo(user_work, isolated_env)
    assert tree(user_work) == start
    assert user_git_state(user_work) == state
    assert git(user_work, "status", "--porcelain") == status
    nothing = run_cli(["undo"], user_work, isolated_env)
    assert nothing.returncode == 1 and "nothing to undo" in nothing.stderr


def test_auto_commit_commits_only_the_turns_files(tmp_path: Path, user_work: Path, isolated_env):
    (user_work / "staged_by_user.txt").write_text("mine\n")
    git(user_work, "add", "staged_by_user.txt")
    proc = run_script(tmp_path, user_work, isolated_env, [
        {"tool_calls": [{"name": "edit_file", "arguments": {
            "path": "calc.py", "old": "return a - b", "new": "return a + b"}}]},
        {"text": "Fixed add: it subtracted."},
    ], "--auto-commit")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert "committed" in err.decode()
    assert git(user_work, "show", "--name-only", "--format=%s", "HEAD").split() == [
        "gemma-code:", "do", "the", "thing", "calc.py"]
    assert "Fixed add" in git(user_work, "log", "-1", "--format=%b")
    assert git(user_work, "diff", "--cached", "--name-only").split() == [".gitignore",
                                                                        "staged_by_user.txt"]
