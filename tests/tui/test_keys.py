"""Keys and input people expect: nothing typed at start is lost, big pastes fold, Ctrl+C
clears, PageUp/PageDown scroll, Ctrl+P lists the commands, a message sent while the agent
works waits its turn, `/resume` alone offers a list, Shift+Tab leaves no stray toast."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual import events
from textual.command import CommandList, CommandPalette

from gemma_code.agent.messages import AssistantMessage, SystemMessage, UserMessage
from gemma_code.agent.tui.pickers import SessionPicker
from gemma_code.agent.tui.widgets import AssistantBlock, UserBlock

from .conftest import finished, make_app, notices, ready, send, until

pytestmark = pytest.mark.asyncio


async def test_keys_typed_while_the_app_starts_are_kept(repo: Path):
    app, _ = make_app(repo, [])

    async def type_at_once() -> None:  # as a person typing while the terminal starts the app
        while not app.is_running:
            await asyncio.sleep(0)
        for key in "abcdefgh":
            app.post_message(events.Key(key, key))

    typing = asyncio.ensure_future(type_at_once())
    async with app.run_test(size=(100, 30)) as pilot:
        await typing
        await ready(pilot)
        await until(pilot, lambda: app.prompt.text == "abcdefgh")


async def test_a_big_paste_folds_to_a_placeholder_and_the_model_gets_it_all(repo: Path):
    pasted = "\n".join(f"log line {i}" for i in range(1000))
    app, backend = make_app(repo, [{"text": "read it"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"why? ")
        app.prompt.post_message(events.Paste(pasted))
        await until(pilot, lambda: "[pasted" in app.prompt.text)
        assert app.prompt.text == "why? [pasted 1,000 lines]"
        await pilot.press("enter")
        await finished(pilot)
        assert backend.seen[0][-1].text == f"why? {pasted}"
        assert str(app.query_one(UserBlock).render()) == "› why? [pasted 1,000 lines]"


async def test_mentions_say_what_they_attached_and_what_they_did_not_find(repo: Path):
    app, backend = make_app(repo, [{"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "compare @calc.py with @missing.py")
        await finished(pilot)
        assert "attached: calc.py (2 lines)" in str(app.query_one(UserBlock).render())
        assert "@missing.py: no such file in the workspace; nothing attached" in notices(app)


async def test_ctrl_c_clears_the_input_then_twice_quits(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press(*"half a thought")
        await pilot.press("ctrl+c")
        assert app.prompt.text == "" and app.is_running
        await pilot.press("ctrl+c")
        assert app.is_running and "again to quit" in app.prompt.border_subtitle
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.is_running)


async def test_shift_tab_says_the_mode_on_the_input_not_in_a_toast(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("shift+tab")
        assert "approval mode: auto-edit" in app.prompt.border_subtitle
        assert not app._notifications


async def test_page_keys_scroll_the_conversation_from_the_input(repo: Path):
    long = "\n\n".join(f"paragraph {i}" for i in range(80))
    app, _ = make_app(repo, [{"text": long}])
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await send(pilot, "write a lot")
        await finished(pilot, timeout=20)
        transcript = app.transcript
        await until(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y > 0)
        bottom = transcript.scroll_y
        assert app.prompt.has_focus
        await pilot.press("pageup")
        await until(pilot, lambda: transcript.scroll_y < bottom)
        await pilot.press("pagedown")
        await until(pilot, lambda: transcript.scroll_y == bottom)


async def test_the_command_palette_lists_the_slash_commands(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"/checkpoints")
        commands = app.screen.query_one(CommandList)
        await until(pilot, lambda: commands.option_count
                    and "/checkpoints" in str(commands.get_option_at_index(0).prompt))
        await pilot.press("down", "enter")  # picking one runs it
        await until(pilot, lambda: any("checkpoint" in n for n in notices(app)[1:]))


async def test_a_message_sent_while_the_agent_works_is_queued_then_sent(repo: Path):
    slow = " ".join(f"w{i}" for i in range(150))
    app, backend = make_app(repo, [{"text": slow}, {"text": "second answer"}],
                            chunk_size=4, chunk_delay=0.02)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "first")
        await until(pilot, lambda: app.running)
        await send(pilot, "and then this")
        assert any("queued" in n for n in notices(app)) and app.prompt.text == ""
        assert "queued" in str(app.query(UserBlock).last().render())
        await until(pilot, lambda: backend.turns_played == 2, timeout=30)
        await finished(pilot, timeout=10)
        assert backend.seen[1][-1].text == "and then this"
        assert app.query(AssistantBlock).last().source == "second answer"


async def test_resume_alone_opens_a_picker_of_saved_sessions(repo: Path, store):
    saved = store.create(repo, "scripted-test")
    saved.append([SystemMessage(content="system"), UserMessage.of("fix the parser"),
                  AssistantMessage(text="Fixed.")])
    app, _ = make_app(repo, [], store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/resume")
        await until(pilot, lambda: isinstance(app.screen, SessionPicker))
        listed = str(app.screen.query_one("OptionList").get_option_at_index(0).prompt)
        assert "fix the parser" in listed and saved.info.id in listed
        await pilot.press("enter")
        await until(pilot, lambda: app.session_id == saved.info.id)
        assert [str(b.render()) for b in app.query(UserBlock)] == ["› fix the parser"]
