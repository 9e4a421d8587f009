"""The TUI's plain helpers: mentions, file suggestions, history, git state, status text."""

from __future__ import annotations

from pathlib import Path

from gemma_code.agent.attachments import expand_mentions
from gemma_code.agent.tui.input import History, file_suggestions, list_files

from ..conftest import git


def test_mentions_skip_what_is_not_a_text_file_in_the_workspace(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = '```'\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2")
    expanded = expand_mentions("see @a.py and @blob.bin or me@example.com or @../x @nope", tmp_path)
    assert expanded.attached == ["a.py"]
    assert expanded.problems == ["@blob.bin is not a text file; not attached"]
    assert "````\nx = '```'\n````" in expanded.text  # a longer fence than any inside


def test_file_suggestions_prefer_prefixes_and_names():
    files = ["src/app.py", "tests/test_app.py", "app.tcss", "docs/apple.md"]
    labels = [s.label for s in file_suggestions("open @app", files)]
    assert labels == ["@src/app.py", "@app.tcss", "@docs/apple.md", "@tests/test_app.py"]
    assert file_suggestions("no mention here", files) == []


def test_list_files_respects_gitignore(repo: Path):
    (repo / "x.log").write_text("no")
    assert list_files(repo) == [".gitignore", "calc.py", "test_calc.py"]


def test_history_keeps_the_draft():
    history = History()
    history.add("one")
    history.add("one")
    assert history.back("draft") == "one" and history.back("") is None
    assert history.forward() == "draft" and history.forward() is None


def test_git_state_names_the_branch_and_marks_changes(repo: Path, tmp_path: Path):
    from gemma_code.agent.tui.runtime import git_state

    assert git_state(repo) == "main"
    (repo / "new.txt").write_text("x")
    assert git_state(repo) == "main*"
    git(repo, "checkout", "-q", "-b", "feature")
    assert git_state(repo) == "feature*"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert git_state(fresh) == ""  # not a repository
    born = tmp_path / "born"
    born.mkdir()
    git(born, "init", "-q", "-b", "trunk")
    assert git_state(born) == "trunk"  # no commit yet
    git(fresh, "init", "-q", "-b", "trunk")
    assert git_state(fresh) == ""  # appeared after gemma-code first looked: not trusted


def test_the_approver_waits_for_an_answer_or_a_cancel():
    import threading

    from gemma_code.agent.messages import ToolCall
    from gemma_code.agent.protocols import ApprovalDecision, ApprovalRequest
    from gemma_code.agent.tui.runtime import INTERRUPTED, QueueApprover

    approver = QueueApprover()
    approver.cancel = threading.Event()
    request = ApprovalRequest(call=ToolCall(name="edit_file"), tool="edit_file", reason="r")
    threading.Timer(0.05, approver.answer, [ApprovalDecision(approved=True)]).start()
    assert approver.decide(request).approved
    threading.Timer(0.05, approver.cancel.set).start()
    assert approver.decide(request) == ApprovalDecision(approved=False, note=INTERRUPTED)


def test_resumed_user_text_hides_the_attached_files():
    from gemma_code.agent.tui.transcript import user_display

    assert user_display("fix @a.py\n\nContent of a.py:\n```\nx\n```") == "fix @a.py"
    assert user_display("fix @a.py Content of a.py: ``` x…") == "fix @a.py"
    assert user_display("plain") == "plain"
