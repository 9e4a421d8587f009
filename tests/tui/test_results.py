"""Results read honestly: a failing command is a red ✗ with its summary in view, headers say
what a call works on, and a resumed session shows its results as they were."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gemma_code.agent.messages import (
    AssistantMessage, SystemMessage, TextPart, ToolCall, ToolMessage, UserMessage,
)
from gemma_code.agent.tui.status import StatusBar
from gemma_code.agent.tui.widgets import ToolBlock, UserBlock

from .conftest import finished, make_app, notices, ready, send

pytestmark = pytest.mark.asyncio

FAILING = "seq 1 30; echo 'FAILED test_calc.py::test_add'; echo '1 failed in 0.12s'; exit 1"


def part(block: ToolBlock, name: str) -> str:
    return str(block.query_one(name).render())


async def test_a_failing_command_is_a_red_cross_with_its_end_in_view(repo: Path):
    run = {"name": "run_shell", "arguments": {"command": FAILING}}
    app, _ = make_app(repo, [{"tool_calls": [run]}, {"text": "it fails"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "run the tests")
        await finished(pilot)
        block = app.query_one(ToolBlock)
        status, body = part(block, ".tool-status"), part(block, ".tool-body")
        assert re.fullmatch(r"✗ exit 1 in \d+\.\ds", status) and block.has_class("error")
        assert len(re.findall(r"exit( code)? 1", status + body)) == 1  # said once
        assert body.splitlines()[-2:] == ["FAILED test_calc.py::test_add", "1 failed in 0.12s"]
        assert "earlier lines (Enter or click expands)" in body and "\n3\n" not in body


async def test_a_passing_command_stays_a_green_tick(repo: Path):
    run = {"name": "run_shell", "arguments": {"command": "echo fine"}}
    app, _ = make_app(repo, [{"tool_calls": [run]}, {"text": "ok"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "check")
        await finished(pilot)
        block = app.query_one(ToolBlock)
        assert part(block, ".tool-status").startswith("✓ exit 0 in ") and block.has_class("done")
        assert part(block, ".tool-body") == "fine"


async def test_headers_show_the_path_and_a_summary_not_raw_arguments(repo: Path):
    content = "\n".join(f"line {i}" for i in range(40)) + "\n"
    write = {"name": "write_file", "arguments": {"path": "notes.txt", "content": content}}
    read = {"name": "read_file", "arguments": {"path": "calc.py", "offset": 1}}
    app, _ = make_app(repo, [{"tool_calls": [write]}, {"tool_calls": [read]}, {"text": "ok"}],
                      approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "take notes")
        await finished(pilot)
        first, second = (part(b, ".tool-title") for b in app.query(ToolBlock))
        assert first == "write_file notes.txt · content 40 lines"
        assert second == "read_file calc.py · offset=1"
        changed = [n for n in notices(app) if n.startswith("changed ")]
        assert changed == ["changed notes.txt (/undo or gemma-code undo puts it back)"]


def saved_conversation(store, repo: Path) -> str:
    saved = store.create(repo, "scripted-test")
    run = ToolCall(name="run_shell", arguments={"command": "python -m pytest -q"})
    quiet = ToolCall(name="run_shell", arguments={"command": "true"})
    read = ToolCall(name="read_file", arguments={"path": "calc.py"})
    saved.append([
        SystemMessage(content="system"),
        UserMessage.of("why does add fail? see @calc.py\n\nContent of calc.py:\n```\n"
                       "def add(a, b):\n    return a - b\n```"),
        AssistantMessage(text="Running them.", tool_calls=(run,)),
        ToolMessage(call_id=run.id, name="run_shell", content=(TextPart(
            text="F\nFAILED test_calc.py::test_add\n1 failed in 0.02s\n[exit code 1 after 0.4s]"),)),
        AssistantMessage(text="", tool_calls=(quiet,)),
        ToolMessage(call_id=quiet.id, name="run_shell",
                    content=(TextPart(text="(no output)\n[exit code 0 after 0.0s]"),)),
        AssistantMessage(text="", tool_calls=(read,)),
        ToolMessage(call_id=read.id, name="read_file",
                    content=(TextPart(text="def add(a, b):\n    return a - b\n"),)),
        AssistantMessage(text="It subtracts. " * 200),
    ])
    return saved.info.id


async def test_a_resumed_session_looks_as_it_did(repo: Path, store):
    session_id = saved_conversation(store, repo)
    app, _ = make_app(repo, [], store=store, resume=session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        user = str(app.query_one(UserBlock).render())
        assert user == "› why does add fail? see @calc.py\nattached: calc.py (2 lines)"
        tests, quiet, read = app.query(ToolBlock)
        assert part(tests, ".tool-status") == "✗ exit 1 in 0.4s" and tests.has_class("error")
        assert part(tests, ".tool-body").endswith("1 failed in 0.02s")
        assert part(quiet, ".tool-status") == "✓ exit 0 in 0.0s"
        assert part(read, ".tool-status") == "✓ 2 lines of output"
        context = str(app.query_one(StatusBar).render())
        assert re.search(r"ctx ~\d[\d.]*k?/33k", context) and "ctx 0/" not in context
