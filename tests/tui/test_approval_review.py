"""An approval shows what it approves: the whole change can be read before y/a/n, the hint
offers only the choices there are, and "always" says exactly what it lets through."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer

from gemma_code.agent.registry import command_prefix
from gemma_code.agent.tui.approval import ApprovalPrompt
from gemma_code.agent.tui.status import WorkingLine
from gemma_code.agent.tui.widgets import ToolBlock

from .conftest import finished, make_app, ready, send, until

LINES = [f"value_{i:03d} = {i}" for i in range(1, 121)]
WRITE = {"name": "write_file", "arguments": {"path": "big.py", "content": "\n".join(LINES) + "\n"}}


def change_text(prompt: ApprovalPrompt) -> str:
    return str(prompt.query_one(".approval-change").render())


def working_text(app) -> str:
    return app.query_one(WorkingLine).line


@pytest.mark.asyncio
async def test_a_long_change_can_be_read_whole_before_approving(repo: Path):
    app, _ = make_app(repo, [{"tool_calls": [WRITE]}, {"text": "written"}])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "write big.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.pause()
        prompt = app.query_one(ApprovalPrompt)
        folded = change_text(prompt)
        assert "value_120" not in folded and "more lines (Enter or click expands)" in folded
        assert "Enter: whole change" in working_text(app)
        await pilot.press("enter")  # the hint says Enter expands: it does
        await pilot.pause()
        whole = change_text(prompt)
        assert all(f"+{line}" in whole for line in LINES)
        assert "more lines" not in whole
        transcript = app.transcript
        change = prompt.query_one(".approval-change")
        # The view went to the change's first line, and the rest can be scrolled to (PageDown
        # from the approval), down to the buttons, without answering.
        assert change.region.y <= transcript.region.y + 1
        assert transcript.max_scroll_y > 0
        for _ in range(12):
            await pilot.press("pagedown")
        await pilot.pause()
        assert transcript.scroll_y == transcript.max_scroll_y
        assert not prompt.answered and isinstance(app.focused, ApprovalPrompt)
        await pilot.press("enter")
        assert "value_120" not in change_text(prompt)  # folded again
        await pilot.click(".approval-change")  # a click expands too
        await pilot.pause()
        assert "+value_120 = 120" in change_text(prompt)
        assert not app.query_one(ToolBlock).expanded  # the click was the change's, not the block's
        await pilot.press("y")
        await finished(pilot)
        assert (repo / "big.py").read_text().splitlines() == LINES


@pytest.mark.asyncio
async def test_the_hint_offers_only_what_the_prompt_offers(repo: Path):
    wipe = {"name": "run_shell", "arguments": {"command": "rm -rf ~/.gemma-code-test-no-such-dir"}}
    app, _ = make_app(repo, [{"tool_calls": [wipe]}, {"text": "not done"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "clean up")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        hint = working_text(app)
        assert "y once" in hint and "n deny" in hint
        assert "always" not in hint and not app.query(".approval-always")
        await pilot.press("n", "enter")
        await finished(pilot)


@pytest.mark.asyncio
async def test_always_offers_the_narrowest_prefix_and_says_what_it_allows(repo: Path):
    tests = {"name": "run_shell", "arguments": {"command": "python -m pytest -q"}}
    other = {"name": "run_shell", "arguments": {"command": "python -c 'print(42)'"}}
    app, _ = make_app(repo, [{"tool_calls": [tests]}, {"tool_calls": [other]}, {"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "run the tests")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        prompt = app.query_one(ApprovalPrompt)
        assert "always allow `python -m pytest`" in str(prompt.query_one("#always").label)
        note = str(prompt.query_one(".approval-always").render())
        assert "commands that start with `python -m pytest` run without asking" in note
        assert "a always" in working_text(app)
        await until(pilot, lambda: app.focused is prompt)  # a key sent before it has focus is lost
        await pilot.press("a")
        # Another python command is not covered: it asks.
        await until(pilot, lambda: len(app.query(ApprovalPrompt)) == 1 and app.query_one(ApprovalPrompt) is not prompt)
        second = app.query_one(ApprovalPrompt)
        assert "print(42)" in str(second.query_one(".approval-change").render())
        await until(pilot, lambda: app.focused is second)
        await pilot.press("y")
        await finished(pilot)
        assert app.session.agent.tools.shell_allow[-1] == "python -m pytest"


@pytest.mark.parametrize("command, prefix", [
    ("python -m pytest -q", "python -m pytest"),
    ("python3 -m pytest tests/", "python3 -m pytest"),
    ("npm test", "npm test"),
    ("npm run build -- --watch", "npm run build"),
    ("uv run python -m pytest", "uv run python -m pytest"),
    ("git status --short", "git status"),
    ("python manage.py test", "python manage.py"),
    ("python -c 'print(1)'", ""),  # no prefix is narrow enough: "always" is not offered
    ("bash -c 'make all'", ""),
    ("pytest -q", "pytest"),
    ("git", ""),  # "always" for `git` alone would let `git push` through
])
def test_command_prefix_is_the_narrowest_that_makes_sense(command: str, prefix: str):
    assert command_prefix(command) == prefix


@pytest.mark.asyncio
async def test_an_approval_says_waiting_once_and_the_footer_fits(repo: Path):
    edit = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
    app, _ = make_app(repo, [{"tool_calls": [edit]}, {"text": "done"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.pause()
        block = app.query_one(ToolBlock)
        assert "waiting" not in str(block.query_one(".tool-status").render())
        assert "waiting for approval" in working_text(app)
        footer = app.query_one(Footer)
        assert footer.virtual_size.width <= footer.size.width  # nothing cut off at 100 columns
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert footer.virtual_size.width <= footer.size.width  # nor at 80
        await pilot.press("y")
        await finished(pilot)


@pytest.mark.asyncio
async def test_a_chained_command_offers_no_always_it_could_never_keep(repo: Path):
    chained = {"name": "run_shell", "arguments": {"command": "sleep 0; echo chained"}}
    app, _ = make_app(repo, [{"tool_calls": [chained]}, {"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "run it")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        assert not app.query("#always") and "always" not in working_text(app)
        await pilot.press("y")
        await finished(pilot)
