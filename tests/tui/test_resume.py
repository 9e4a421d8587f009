"""Saved sessions: written as the app goes, reopened with their transcript."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_code.agent.messages import (
    AssistantMessage, SystemMessage, TextPart, ToolCall, ToolMessage, UserMessage,
)
from gemma_code.agent.tui.widgets import AssistantBlock, ToolBlock, UserBlock

from .conftest import finished, make_app, notices, ready, send, until

pytestmark = pytest.mark.asyncio


def saved_conversation(store, repo: Path) -> str:
    saved = store.create(repo, "scripted-test")
    call = ToolCall(name="read_file", arguments={"path": "calc.py"})
    saved.append([
        SystemMessage(content="system"),
        UserMessage.of("why does add fail?"),
        AssistantMessage(text="Let me look.", tool_calls=(call,)),
        ToolMessage(call_id=call.id, name="read_file",
                    content=(TextPart(text="1\tdef add(a, b):\n2\t    return a - b"),)),
        AssistantMessage(text="It **subtracts**."),
    ])
    return saved.info.id


async def test_resume_shows_the_transcript_and_goes_on(repo: Path, store):
    session_id = saved_conversation(store, repo)
    app, backend = make_app(repo, [{"text": "Yes, still subtracting."}], store=store, resume=session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert [str(b.render()) for b in app.query(UserBlock)] == ["› why does add fail?"]
        assert [b.source for b in app.query(AssistantBlock)] == ["Let me look.", "It **subtracts**."]
        assert "read_file" in str(app.query_one(ToolBlock).query_one(".tool-title").render())
        assert any(f"resumed session {session_id}" in n for n in notices(app))
        await send(pilot, "still?")
        await finished(pilot)
        assert [m.role for m in backend.seen[0]] == ["system", "user", "assistant", "tool", "assistant", "user"]
        assert app.session_id == session_id
    _, messages = store.load(session_id)
    assert messages[-2].text == "still?" and messages[-1].text == "Yes, still subtracting."


async def test_a_new_session_is_saved_as_it_happens(repo: Path, store):
    app, _ = make_app(repo, [{"text": "Saved."}], store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        assert store.list(repo) == []  # nothing written before the first message
        await send(pilot, "keep this")
        await finished(pilot)
        [info] = store.list(repo.resolve())
        assert info.title == "keep this" and info.id == app.session_id
        _, messages = store.load(info.id)
        assert [m.role for m in messages] == ["system", "user", "assistant"]


async def test_resume_command_switches_to_a_saved_session(repo: Path, store):
    session_id = saved_conversation(store, repo)
    app, _ = make_app(repo, [], store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"/resume ")
        await until(pilot, lambda: app.query_one("#menu").display)
        await pilot.press("tab", "enter")
        await until(pilot, lambda: app.query(UserBlock))
        assert app.session_id == session_id
        assert len(app.session.agent.messages) == 5
        await send(pilot, "/resume nope")
        assert any("no saved session 'nope'" in n for n in notices(app))
