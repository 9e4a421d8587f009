"""Pilot test: the project's tests after an edit, in a block of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_code.agent.messages import UserMessage
from gemma_code.agent.tui.approval import ApprovalPrompt
from gemma_code.agent.tui.verify_block import VerifyBlock

from .conftest import finished, make_app, ready, send, until

pytestmark = pytest.mark.asyncio


def edit(old: str, new: str) -> dict:
    return {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old": old, "new": new}}]}


def shown(block: VerifyBlock) -> str:
    return "\n".join(str(block.query_one(part).render())
                     for part in (".tool-title", ".tool-status", ".tool-body"))


async def test_the_tests_show_as_their_own_block_and_ask_like_commands(repo: Path):
    read = {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}
    turns = [read, edit("return a - b", "return a * b"), {"text": "Done."},
             edit("return a * b", "return a + b"), {"text": "Fixed."}]
    # auto-edit: the edits run unasked; the test command asks, as a shell command would
    app, backend = make_app(repo, turns, approval="auto-edit", verify="auto")
    async with app.run_test(size=(110, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add")
        for runs in (1, 2):
            await until(pilot, lambda: len(app.query(VerifyBlock)) == runs and app.query(ApprovalPrompt))
            prompt = app.query_one(ApprovalPrompt)
            await until(pilot, lambda: prompt.is_mounted and app.focused is prompt)
            await pilot.pause(0.1)  # a key sent in the same instant the prompt mounts can be lost
            await pilot.press("y")
            await until(pilot, lambda: not prompt.is_attached)
        await finished(pilot, timeout=30)
        first, second = app.query(VerifyBlock)
        assert "tests" in shown(first) and "python -m pytest -q" in shown(first)
        assert "the tests fail (1 failing): test_calc.py::test_add" in shown(first)
        # Folded to its last lines, where pytest sums up; the rest on Enter.
        assert "1 failed in" in shown(first) and "earlier lines" in shown(first)
        assert "def test_add" not in shown(first) and "[exit code" not in shown(first)
        first.action_toggle()
        assert "def test_add" in shown(first)
        assert "the tests pass" in shown(second) and second.has_class("done")
        assert isinstance(backend.seen[3][-1], UserMessage)
        assert "test_calc.py::test_add" in backend.seen[3][-1].text
