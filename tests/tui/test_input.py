"""The input box: Enter and new lines, history, `@path` completion and attachment."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_code.agent.messages import UserMessage
from gemma_code.agent.tui.widgets import UserBlock

from .conftest import finished, make_app, ready, send, until

pytestmark = pytest.mark.asyncio


def menu_labels(app) -> list[str]:
    menu = app.query_one("#menu")
    return [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)] if menu.display else []


async def test_at_completion_attaches_the_file_content(repo: Path):
    (repo / "debug.log").write_text("ignored by .gitignore\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "calculator_notes.md").write_text("notes\n")
    (repo / "pkg" / "[calc].tsx").write_text("brackets in a name are not markup\n")
    app, backend = make_app(repo, [{"text": "I see it."}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: app.files)
        await pilot.press(*"look at @cal")
        assert menu_labels(app) == ["@calc.py", "@pkg/calculator_notes.md", "@pkg/[calc].tsx", "@test_calc.py"]
        await pilot.press("tab")
        assert app.prompt.text == "look at @calc.py "
        await pilot.press("@", "d", "e", "b")
        assert menu_labels(app) == []  # debug.log is gitignored
        await pilot.press("backspace", "backspace", "backspace", "backspace", "enter")
        await finished(pilot)
        sent = backend.seen[0][-1]
        assert isinstance(sent, UserMessage)
        assert sent.text.startswith("look at @calc.py")
        assert "Content of calc.py:\n```\ndef add(a, b):\n    return a - b\n```" in sent.text
        assert "attached: calc.py" in str(app.query_one(UserBlock).render())


async def test_ctrl_j_adds_a_line_and_enter_sends(repo: Path):
    app, backend = make_app(repo, [{"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("o", "n", "e", "ctrl+j", "t", "w", "o")
        assert app.prompt.text == "one\ntwo"
        await pilot.press("enter")
        await finished(pilot)
        assert backend.seen[0][-1].text == "one\ntwo"
        assert app.prompt.text == ""


async def test_up_and_down_walk_the_history(repo: Path):
    app, _ = make_app(repo, [{"text": "a"}, {"text": "b"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        for message in ("first", "second"):
            await pilot.press(*message, "enter")
            await finished(pilot)
        await send(pilot, "/sessions")
        await pilot.press(*"draft", "up")
        assert app.prompt.text == "/sessions"
        assert not app.query_one("#menu").display  # recalled, not typed: no completion menu
        await pilot.press("up")
        assert app.prompt.text == "second"
        await pilot.press("up")
        assert app.prompt.text == "first"
        await pilot.press("up")
        assert app.prompt.text == "first"
        await pilot.press("down", "down", "down")
        assert app.prompt.text == "draft"


async def test_keys_typed_faster_than_the_menu_updates_still_send_what_was_typed(repo: Path):
    """tmux send-keys, or a fast typist: every key is queued before any completion runs."""
    from textual import events

    (repo / "notes.md").write_text("hello\n")
    app, backend = make_app(repo, [{"text": "ok"}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: app.files)
        await pilot.press("@", "n")  # the menu is open with a suggestion for another text
        for key in [*"otes.md please", "enter"]:
            character = key if len(key) == 1 else None
            app.prompt.post_message(events.Key("space" if key == " " else key, character))
        await finished(pilot)
        assert backend.seen[0][-1].text.startswith("@notes.md please")
