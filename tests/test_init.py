"""`gemma-code init` and `/init`: the model writes (or improves) AGENTS.md from the repo map,
the key files and the detected test command, and the write is approved as any edit is."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from gemma_code.agent.messages import UserMessage
from gemma_code.agent.prompts import INIT_NOT_WRITTEN
from gemma_code.agent.sessions import SessionStore
from gemma_code.agent.tui.approval import ApprovalPrompt
from gemma_code.agent.tui.verify_block import VerifyBlock
from gemma_code.agent.verify import find_test_command

from .conftest import run_cli, write_script
from .tui.conftest import finished, make_app, notices, ready, send, until

NEW = "# calc\n\nA tiny calculator.\n\nTest: `python -m pytest -q`\n"
WRITE_NEW = {"name": "write_file", "arguments": {"path": "AGENTS.md", "content": NEW}}
WRITES = [{"tool_calls": [WRITE_NEW]}, {"text": "Wrote AGENTS.md."}]
OLD = "# calc\n\nUse tabs.\n"


@pytest.fixture
def project(repo: Path) -> Path:
    """The repository with a README, so that there is a key file to give the model."""
    (repo / "README.md").write_text("# calc\n\nA tiny calculator: add(a, b).\n")
    return repo


def init(project: Path, tmp_path: Path, env: dict, turns: list[dict], *flags: str):
    script = write_script(tmp_path / "init.json", turns)
    return run_cli(["init", "--backend", "scripted", "--model", str(script), *flags], project, env)


def sent_to_model(env: dict, project: Path) -> UserMessage:
    """The init turn's message as the model got it (the saved session holds it)."""
    store = SessionStore(Path(env["GEMMA_CODE_SESSIONS_DIR"]))
    _, history = store.load(store.latest(project.resolve()))
    return next(m for m in history if isinstance(m, UserMessage))


def test_auto_edit_writes_agents_md(project: Path, tmp_path: Path, isolated_env):
    proc = init(project, tmp_path, isolated_env, WRITES, "--approval", "auto-edit")
    assert proc.returncode == 0, proc.stderr
    assert (project / "AGENTS.md").read_text() == NEW
    assert "gemma-code: wrote AGENTS.md" in proc.stderr
    assert "→ write_file(path=AGENTS.md" in proc.stdout


def test_the_model_gets_the_map_the_test_command_and_the_key_files(
        project: Path, tmp_path: Path, isolated_env):
    test = find_test_command(project)
    assert test is not None
    proc = init(project, tmp_path, isolated_env, WRITES, "--approval", "auto-edit", "mention the CLI")
    assert proc.returncode == 0, proc.stderr
    sent = sent_to_model(isolated_env, project)
    assert "Repository map:" in sent.text and "calc.py" in sent.text
    assert f"Test: `{test.command}`" in sent.typed  # verbatim, in the line the detector reads
    assert "@README.md\n```\n# calc\n\nA tiny calculator: add(a, b).\n```" in sent.text
    assert sent.typed.startswith("Call write_file to write AGENTS.md")
    assert "The user adds: mention the CLI" in sent.typed
    assert f"test command: `{test.command}`" in proc.stderr


def test_an_existing_agents_md_is_given_first_and_improved(project: Path, tmp_path: Path, isolated_env):
    (project / "AGENTS.md").write_text(OLD)
    edit = {"name": "edit_file", "arguments": {
        "path": "AGENTS.md", "old": "Use tabs.\n", "new": "Use tabs.\n\nTest: `python -m pytest -q`\n"}}
    proc = init(project, tmp_path, isolated_env, [{"tool_calls": [edit]}, {"text": "Added the test line."}],
                "--approval", "auto-edit")
    assert proc.returncode == 0, proc.stderr
    assert (project / "AGENTS.md").read_text() == OLD + "\nTest: `python -m pytest -q`\n"
    sent = sent_to_model(isolated_env, project)
    assert "Project instructions from AGENTS.md" in sent.text and "Use tabs." in sent.text
    assert "AGENTS.md exists (shown above): improve it" in sent.typed
    assert "you had not read" not in proc.stdout  # given whole, so it counts as read


def test_an_existing_agents_md_stays_when_the_model_writes_nothing(
        project: Path, tmp_path: Path, isolated_env):
    (project / "AGENTS.md").write_text(OLD)
    turns = [{"text": "It is fine as it is."}, {"text": "It needs no change."}]
    proc = init(project, tmp_path, isolated_env, turns, "--yes")
    assert proc.returncode == 1
    assert (project / "AGENTS.md").read_text() == OLD
    assert "the model did not write AGENTS.md" in proc.stderr


def test_a_model_that_answers_with_the_file_is_told_once_to_write_it(
        project: Path, tmp_path: Path, isolated_env):
    proc = init(project, tmp_path, isolated_env, [{"text": NEW}, *WRITES], "--yes")
    assert proc.returncode == 0, proc.stderr
    assert (project / "AGENTS.md").read_text() == NEW
    store = SessionStore(Path(isolated_env["GEMMA_CODE_SESSIONS_DIR"]))
    _, history = store.load(store.latest(project.resolve()))
    asked = [m.typed for m in history if isinstance(m, UserMessage)]
    assert len(asked) == 2 and asked[1] == INIT_NOT_WRITTEN


def test_no_terminal_in_ask_mode_writes_nothing_and_shows_the_proposal(
        project: Path, tmp_path: Path, isolated_env):
    proc = init(project, tmp_path, isolated_env, WRITES)  # ask mode, stdin is not a terminal
    assert proc.returncode == 3, proc.stderr
    assert not (project / "AGENTS.md").exists()
    assert "Proposed change to AGENTS.md (not written):" in proc.stdout
    assert "+Test: `python -m pytest -q`" in proc.stdout
    assert ("AGENTS.md not written: no terminal to ask on. Rerun on a terminal, or with --yes "
            "(or --approval auto-edit)") in proc.stderr


def test_yes_writes_only_agents_md(project: Path, tmp_path: Path, isolated_env):
    other = {"name": "write_file", "arguments": {"path": "other.py", "content": "x = 1\n"}}
    shell = {"name": "run_shell", "arguments": {"command": "touch made.txt"}}
    turns = [{"tool_calls": [other]}, {"tool_calls": [shell]}, *WRITES]
    proc = init(project, tmp_path, isolated_env, turns, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert (project / "AGENTS.md").read_text() == NEW
    assert not (project / "other.py").exists() and not (project / "made.txt").exists()


def test_on_a_terminal_ask_mode_shows_the_diff_and_asks(project: Path, tmp_path: Path, isolated_env):
    script = write_script(tmp_path / "init.json", WRITES)
    main, terminal = pty.openpty()
    os.write(main, b"y\n")  # the answer, waiting in the terminal's input
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gemma_code.agent.cli", "init", "--backend", "scripted",
             "--model", str(script)], cwd=project, env=isolated_env, stdin=terminal,
            capture_output=True, text=True, timeout=600)
    finally:
        os.close(terminal)
        os.close(main)
    assert proc.returncode == 0, proc.stderr
    assert (project / "AGENTS.md").read_text() == NEW
    assert "Proposed change to AGENTS.md:\n--- /dev/null\n+++ b/AGENTS.md" in proc.stdout
    assert "+Test: `python -m pytest -q`" in proc.stdout
    assert "Write AGENTS.md? [y/N, or say what to change]" in proc.stdout
    assert "no one can approve" not in proc.stdout + proc.stderr


@pytest.mark.asyncio
async def test_slash_init_shows_the_diff_for_approval(project: Path):
    (project / "AGENTS.md").write_text(OLD)
    rewrite = {"name": "write_file", "arguments": {"path": "AGENTS.md", "content": OLD + "\nTest: `pytest`\n"}}
    app, backend = make_app(project, [{"text": "Hello."}, {"tool_calls": [rewrite]}, {"text": "Done."}],
                            context=True, edit_guards=True, verify="auto")
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "hi")  # /init later in a conversation gets the map again
        await finished(pilot)
        await send(pilot, "/init")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.pause()
        change = str(app.query_one(ApprovalPrompt).query_one(".approval-change").render())
        assert "+Test: `pytest`" in change and "Use tabs." in change
        await pilot.press("y")
        await finished(pilot)
        assert (project / "AGENTS.md").read_text() == OLD + "\nTest: `pytest`\n"
        assert any("asking the model for AGENTS.md" in line for line in notices(app))
        assert not app.query(VerifyBlock)  # AGENTS.md alone is nothing for the tests to check
    sent = [m for m in backend.seen[1] if isinstance(m, UserMessage)][-1]
    assert "Repository map:" in sent.text and "AGENTS.md as it is now:" in sent.text
    assert sent.typed.startswith("Call write_file to write AGENTS.md")
