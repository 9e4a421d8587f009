"""Snapshot tests (pytest-textual-snapshot): the screens people see, pixel for pixel.

Update them with `pytest tests/tui/test_snapshots.py --snapshot-update` after a deliberate
change, and look at the report. Everything machine-specific is fixed: the repository is
always `repo` on branch `main`, the theme is textual-dark, and the status bar's last-step
numbers (which depend on timing and the temp path's length) are set to fixed values.
"""

from __future__ import annotations

from pathlib import Path

from gemma_code.agent.events import Usage
from gemma_code.agent.tui.approval import ApprovalPrompt
from gemma_code.agent.tui.status import StatusBar

from .conftest import finished, make_app, ready, send, until

FIXED_USAGE = Usage(prompt_tokens=1834, cached_tokens=1610, completion_tokens=96,
                    prefill_seconds=1.5, decode_seconds=3.2, context_size=32768)
ANSWER = (
    "`calc.py` defines one function:\n\n"
    "```python\ndef add(a, b):\n    return a - b\n```\n\n"
    "It **subtracts** instead of adding, so `test_add` fails."
)
EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}


def steady(app) -> None:
    """Fix what changes from run to run: the blinking cursor and the last step's timing."""
    app.prompt.cursor_blink = False
    app.query_one(StatusBar).usage = FIXED_USAGE


def test_main_screen(repo: Path, snap_compare):
    app, _ = make_app(repo, [{"text": ANSWER}])

    async def run_before(pilot) -> None:
        await ready(pilot)
        await send(pilot, "what does calc.py do?")
        await finished(pilot)
        steady(app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_tool_call_with_a_diff(repo: Path, snap_compare):
    app, _ = make_app(repo, [{"text": "Fixing `add`.", "tool_calls": [EDIT]},
                             {"text": "Done: `add` adds now."}], approval="auto")

    async def run_before(pilot) -> None:
        await ready(pilot)
        await send(pilot, "fix add in calc.py")
        await finished(pilot)
        steady(app)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_approval_prompt(repo: Path, snap_compare):
    app, _ = make_app(repo, [{"text": "I will fix it.", "tool_calls": [EDIT]}, {"text": "ok"}])

    async def run_before(pilot) -> None:
        await ready(pilot)
        await send(pilot, "fix add in calc.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.pause()
        steady(app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_screen(repo: Path, snap_compare):
    app, _ = make_app(repo, [])

    async def run_before(pilot) -> None:
        await ready(pilot)
        steady(app)
        await send(pilot, "/help")

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_a_long_change_expanded_for_review(repo: Path, snap_compare):
    content = "".join(f"value_{i:03d} = {i}\n" for i in range(1, 121))
    write = {"name": "write_file", "arguments": {"path": "big.py", "content": content}}
    app, _ = make_app(repo, [{"tool_calls": [write]}, {"text": "ok"}])

    async def run_before(pilot) -> None:
        await ready(pilot)
        await send(pilot, "write big.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.pause()
        await pilot.press("enter", "pagedown")
        await pilot.pause()
        steady(app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
