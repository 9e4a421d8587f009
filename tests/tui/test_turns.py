"""Pilot tests of a turn: streaming, tool calls, approvals, interrupting, failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from gemma_code.agent.messages import ToolMessage
from gemma_code.agent.tui.approval import ApprovalPrompt
from gemma_code.agent.tui.status import StatusBar
from gemma_code.agent.tui.widgets import AssistantBlock, ThinkingBlock, ToolBlock, UserBlock

from .conftest import finished, make_app, notices, ready, send, until

pytestmark = pytest.mark.asyncio

EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b", "new": "return a + b"}}
FIXED = "def add(a, b):\n    return a + b\n"


def tool_text(block: ToolBlock) -> str:
    status = block.query_one(".tool-status").render()
    body = block.query_one(".tool-body").render()
    return f"{status}\n{body}"


async def test_answer_streams_while_the_input_stays_usable(repo: Path):
    answer = "Here is **the plan**:\n\n" + " ".join(f"step{i}" for i in range(80))
    app, backend = make_app(repo, [{"reasoning": "think first", "text": answer}],
                            chunk_size=4, chunk_delay=0.05)

    def shown() -> int:
        blocks = app.query(AssistantBlock)
        return len(blocks.first().source) if blocks else 0

    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "make a plan")
        await until(pilot, lambda: 0 < shown() < len(answer))
        seen = shown()
        # A key typed mid-stream (posted, as the terminal would: pilot.press waits for idle).
        app.post_message(events.Key("x", "x"))
        await until(pilot, lambda: app.prompt.text == "x")
        assert shown() < len(answer)  # the key was handled while the answer streamed
        await until(pilot, lambda: shown() > seen)  # and the stream went on
        await finished(pilot, timeout=20)
        assert app.query_one(AssistantBlock).source == answer
        thinking = app.query_one(ThinkingBlock)
        assert thinking.collapsed and "think first" in str(thinking._body.render())
        assert [str(b.render()) for b in app.query(UserBlock)] == ["› make a plan"]
        assert app.query_one(StatusBar).usage is not None


async def test_approve_once_runs_the_edit_and_shows_its_diff(repo: Path):
    app, backend = make_app(repo, [{"text": "Fixing.", "tool_calls": [EDIT]}, {"text": "Done."}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add in calc.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        assert "return a - b" in (repo / "calc.py").read_text()  # nothing before the yes
        assert isinstance(app.focused, ApprovalPrompt)
        await pilot.press("y")
        await finished(pilot)
        assert (repo / "calc.py").read_text() == FIXED
        block = app.query_one(ToolBlock)
        assert "edited calc.py (+1 -1)" in tool_text(block)
        # The diff was read in the approval box: folded here, not shown a second time.
        assert "return a + b" not in tool_text(block) and "lines (Enter or click expands)" in tool_text(block)
        block.action_toggle()
        assert "+    return a + b" in tool_text(block) and "-    return a - b" in tool_text(block)
        assert not app.query(ApprovalPrompt)
        assert app.query(AssistantBlock).last().source == "Done."


async def test_deny_with_a_reason_tells_the_model_why(repo: Path):
    app, backend = make_app(repo, [{"tool_calls": [EDIT]}, {"text": "Understood."}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add in calc.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.press("n")
        await pilot.press(*"keep subtraction")
        await pilot.press("enter")
        await finished(pilot)
        assert "return a - b" in (repo / "calc.py").read_text()
        result = backend.seen[1][-1]
        assert isinstance(result, ToolMessage) and result.is_error
        assert "denied" in result.text and "keep subtraction" in result.text
        assert "keep subtraction" in tool_text(app.query_one(ToolBlock))


async def test_approve_always_stops_asking_for_that_tool(repo: Path):
    second = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "a + b", "new": "b + a"}}
    app, backend = make_app(repo, [{"tool_calls": [EDIT]}, {"tool_calls": [second]}, {"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add in calc.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.press("a")
        await finished(pilot)
        assert "return b + a" in (repo / "calc.py").read_text()
        assert len(app.query(ToolBlock)) == 2
        assert "always allow" not in "".join(notices(app))
        assert backend.turns_played == 3


async def test_always_for_shell_remembers_the_command_prefix(repo: Path):
    echo = {"name": "run_shell", "arguments": {"command": "echo one"}}
    echo2 = {"name": "run_shell", "arguments": {"command": "echo two"}}
    app, backend = make_app(repo, [{"tool_calls": [echo]}, {"tool_calls": [echo2]}, {"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "say things")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        assert "always allow `echo`" in str(app.query_one("#always").label)
        await pilot.press("a")
        await finished(pilot)
        first, second = app.query(ToolBlock)
        assert "✓ exit 0" in tool_text(first) and "one" in tool_text(first)
        assert "two" in tool_text(second)
        assert app.session.agent.tools.shell_allow[-1] == "echo"


async def test_an_edit_with_empty_old_text_is_previewed_without_hanging(repo: Path):
    """Qwen 1.5B sent `old: ""`; the preview once looped forever on the UI thread."""
    bad = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "",
                                              "new": "def multiply(a, b):\n    return a * b\n"}}
    app, backend = make_app(repo, [{"tool_calls": [bad]}, {"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "add multiply")
        await finished(pilot)
        assert "`old` is empty" in tool_text(app.query_one(ToolBlock))
        assert not app.query(ApprovalPrompt)  # an edit that cannot apply is not put to the person


async def test_always_answers_outlive_clear(repo: Path):
    echo = {"name": "run_shell", "arguments": {"command": "echo one"}}
    echo2 = {"name": "run_shell", "arguments": {"command": "echo two"}}
    app, backend = make_app(repo, [{"tool_calls": [echo]}, {"text": "ok"},
                                   {"tool_calls": [echo2]}, {"text": "ok again"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "say one")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.press("a")
        await finished(pilot)
        await send(pilot, "/clear")
        await send(pilot, "say two")
        await finished(pilot)
        assert not app.query(ApprovalPrompt)
        assert "two" in tool_text(app.query_one(ToolBlock))


async def test_a_destructive_command_offers_no_always(repo: Path, tmp_path: Path):
    wipe = {"name": "run_shell", "arguments": {"command": "rm -rf ~/.gemma-code-test-no-such-dir"}}
    app, backend = make_app(repo, [{"tool_calls": [wipe]}, {"text": "not done"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "clean up")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        prompt = app.query_one(ApprovalPrompt)
        assert "home directory" in prompt.reason and not prompt.query("#always")
        await pilot.press("a")  # no such choice: nothing happens
        assert not prompt.answered
        await pilot.press("n")
        await pilot.press("enter")
        await finished(pilot)
        assert "denied" in tool_text(app.query_one(ToolBlock))


async def test_escape_interrupts_a_long_answer_and_the_session_goes_on(repo: Path):
    long = " ".join(f"word{i}" for i in range(2000))
    app, backend = make_app(repo, [{"text": long}, {"text": "Still here."}],
                            chunk_size=4, chunk_delay=0.01)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "write a lot")
        await until(pilot, lambda: app.query(AssistantBlock) and app.query_one(AssistantBlock).source)
        await pilot.press("escape")
        await finished(pilot)
        assert len(app.query_one(AssistantBlock).source) < len(long)
        assert any("interrupted" in n for n in notices(app))
        await send(pilot, "are you there?")
        await finished(pilot)
        assert app.query(AssistantBlock).last().source == "Still here."


async def test_escape_while_an_approval_waits_denies_it(repo: Path):
    app, backend = make_app(repo, [{"tool_calls": [EDIT]}, {"text": "never"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add in calc.py")
        await until(pilot, lambda: app.query(ApprovalPrompt))
        await pilot.press("escape")
        await finished(pilot)
        assert "return a - b" in (repo / "calc.py").read_text()
        assert not app.query(ApprovalPrompt)
        assert any("interrupted" in n for n in notices(app))
        assert backend.turns_played == 1  # the loop stopped instead of asking the model again


async def test_a_failing_turn_is_reported_and_the_app_stays_up(repo: Path):
    app, backend = make_app(repo, [{"text": "one answer"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "first")
        await finished(pilot)
        await send(pilot, "second")  # the script has no second turn: ScriptExhausted
        await finished(pilot)
        assert any("ScriptExhausted" in n for n in notices(app))
        assert app.is_running and app.prompt.has_focus


async def test_escape_stops_a_running_shell_command(repo: Path):
    sleep = {"name": "run_shell", "arguments": {"command": "echo started; sleep 30"}}
    app, backend = make_app(repo, [{"tool_calls": [sleep]}, {"text": "never"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "wait a while")
        await until(pilot, lambda: app.query(ToolBlock) and app.query_one(ToolBlock).has_class("running"))
        await pilot.pause(0.3)
        await pilot.press("escape")
        await until(pilot, lambda: not app.running, timeout=5)
        text = tool_text(app.query_one(ToolBlock))
        assert "cancelled" in text and "started" in text
        assert backend.turns_played == 1


async def test_long_output_is_collapsed_until_expanded(repo: Path):
    count = {"name": "run_shell", "arguments": {"command": "seq 1 40"}}
    app, _ = make_app(repo, [{"tool_calls": [count]}, {"text": "counted"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "count")
        await finished(pilot)
        block = app.query_one(ToolBlock)
        body = str(block.query_one(".tool-body").render())
        assert "✓ exit 0" in tool_text(block)
        # A command's summary comes at its end: the folded view shows the last lines.
        assert body.splitlines()[1:] == ["36", "37", "38", "39", "40"] and "\n5\n" not in body
        assert "35 earlier lines (Enter or click expands)" in body
        await pilot.press("ctrl+o")
        assert "\n5\n" in str(block.query_one(".tool-body").render())
        block.focus()
        await pilot.press("enter")
        assert "\n5\n" not in str(block.query_one(".tool-body").render())
        await pilot.click(block)
        assert "\n5\n" in str(block.query_one(".tool-body").render())
