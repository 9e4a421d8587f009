"""Progress while the agent works: time and tokens on the working line, a command's output as
it comes with its running time, and the context figure warning before the window is full."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gemma_code.agent.events import Usage
from gemma_code.agent.tui.status import StatusBar, WorkingLine
from gemma_code.agent.tui.widgets import ToolBlock

from .conftest import finished, make_app, ready, send, until

pytestmark = pytest.mark.asyncio


def styles(content) -> str:
    return " ".join(str(span.style) for span in content.spans)


async def test_the_working_line_counts_time_and_tokens(repo: Path):
    answer = " ".join(f"w{i}" for i in range(200))
    app, _ = make_app(repo, [{"text": answer}], chunk_size=4, chunk_delay=0.02)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "talk")
        working = app.query_one(WorkingLine)
        await until(pilot, lambda: re.search(r"working… [1-9]\d*s · [1-9]\d* tokens · Esc interrupts",
                                             str(working.query_one(".working-text").render())))
        await finished(pilot, timeout=30)
        assert not working.display


async def test_a_running_command_streams_its_output_and_its_time(repo: Path):
    slow = {"name": "run_shell", "arguments": {"command": "echo started; sleep 2.5; echo finished"}}
    app, _ = make_app(repo, [{"tool_calls": [slow]}, {"text": "done"}], approval="auto")
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "wait")
        await until(pilot, lambda: app.query(ToolBlock))
        block = app.query_one(ToolBlock)
        body, status = block.query_one(".tool-body"), block.query_one(".tool-status")
        await until(pilot, lambda: "started" in str(body.render()), timeout=5)
        assert block.has_class("running") and "finished" not in str(body.render())
        await until(pilot, lambda: re.search(r"running [12]s", str(status.render())), timeout=5)
        await finished(pilot, timeout=10)
        assert str(body.render()) == "started\nfinished"
        assert str(status.render()).startswith("✓ exit 0 in 2.")


async def test_the_context_figure_warns_near_the_limit(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        status = app.query_one(StatusBar)
        status.usage = Usage(prompt_tokens=12_000, cached_tokens=0, completion_tokens=100,
                             prefill_seconds=1, decode_seconds=1)
        assert "$text-warning" not in styles(status.render())
        status.usage = Usage(prompt_tokens=28_000, cached_tokens=0, completion_tokens=100,
                             prefill_seconds=1, decode_seconds=1)
        shown = status.render()
        assert "ctx 28k/33k 86%: when full the turn stops (/clear)" in str(shown)
        assert "$text-warning" in styles(shown)
        status.usage = Usage(prompt_tokens=32_000, cached_tokens=0, completion_tokens=100,
                             prefill_seconds=1, decode_seconds=1)
        assert "$text-error" in styles(status.render())


async def test_the_status_bar_keeps_the_branch_whole_when_narrow(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.git)
        status.usage = Usage(prompt_tokens=1834, cached_tokens=1610, completion_tokens=96,
                             prefill_seconds=1.5, decode_seconds=3.2)
        status.model = "qwen2.5-coder-1.5b-instruct"
        await pilot.pause()
        line = str(status.render())
        assert line.endswith("repo main") and len(line) <= status.content_size.width
