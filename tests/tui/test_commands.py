"""Pilot tests of the slash commands, their completion, and switching models."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import ProgressBar

from gemma_code.agent.config import Settings
from gemma_code.agent.messages import SystemMessage
from gemma_code.agent.tui.app import GemmaCodeApp
from gemma_code.agent.tui.commands import HelpScreen
from gemma_code.agent.tui.status import StatusBar
from gemma_code.agent.tui.widgets import AssistantBlock, LoadingBlock, ToolBlock, UserBlock
from gemma_code.backends.models.spec import ModelNotPresent
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import finished, make_app, notices, ready, send, until

pytestmark = pytest.mark.asyncio


async def test_help_lists_every_command_and_closes_with_escape(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/help")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help Static").render())
        for name in ("help", "model", "clear", "diff", "undo", "image", "paste", "compact",
                     "approval", "sessions", "quit"):
            assert f"/{name}" in text
        assert "Esc" in text and "PageUp" in text and "on an empty input, twice: quit" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)


async def test_approval_mode_set_cycled_and_switched_by_key(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        registry = app.session.agent.tools
        await send(pilot, "/approval auto")
        assert registry.mode == "auto" and app.query_one(StatusBar).mode == "auto"
        await send(pilot, "/approval")  # cycles: auto -> read-only
        assert registry.mode == "read-only"
        await pilot.press("shift+tab")
        assert registry.mode == "ask" and app.query_one(StatusBar).mode == "ask"
        await send(pilot, "/approval sometimes")
        assert registry.mode == "ask"
        assert any("unknown approval mode" in n for n in notices(app))


async def test_clear_starts_a_new_conversation(repo: Path, store):
    app, backend = make_app(repo, [{"text": "first"}, {"text": "second"}], store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await finished(pilot)
        first_id = app.session_id
        await send(pilot, "/clear")
        assert not app.query(UserBlock) and not app.query(AssistantBlock)
        assert [type(m) for m in app.session.agent.messages] == [SystemMessage]
        await send(pilot, "again")
        await finished(pilot)
        assert [m.role for m in backend.seen[1]] == ["system", "user"]
        assert app.session_id != first_id


async def test_compact_replaces_the_conversation_by_the_models_summary(repo: Path):
    app, backend = make_app(repo, [{"text": "Hi."}, {"text": "Goal: greet. Nothing left."}])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "hello")
        await finished(pilot)
        await send(pilot, "/compact the greeting")
        await until(pilot, lambda: any("into a summary" in n for n in notices(app)))
        assert backend.seen[-1][-1].text.endswith("Focus on: the greeting")
        messages = app.session.agent.messages
        assert [m.role for m in messages] == ["system", "user"]
        assert "Goal: greet." in messages[1].text and not app.running


async def test_undo_restores_the_last_turn_and_the_model_hears_of_it(repo: Path):
    edit = {"name": "edit_file", "arguments": {"path": "calc.py", "old": "return a - b",
                                               "new": "return a + b"}}
    new = {"name": "write_file", "arguments": {"path": "notes.md", "content": "# notes\n"}}
    app, backend = make_app(repo, [{"tool_calls": [edit]}, {"tool_calls": [new]}, {"text": "Done."},
                                   {"text": "Noted."}], approval="auto-edit")
    original = (repo / "calc.py").read_text()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "fix add in calc.py and take notes")
        await finished(pilot)
        assert (repo / "calc.py").read_text() != original and (repo / "notes.md").exists()
        assert any("changed calc.py, notes.md" in n and "/undo" in n for n in notices(app))

        await send(pilot, "/undo")
        await until(pilot, lambda: any("undid the turn" in n for n in notices(app)))
        assert (repo / "calc.py").read_text() == original and not (repo / "notes.md").exists()
        assert any("restored: calc.py" in n and "removed: notes.md" in n for n in notices(app))

        await send(pilot, "/undo")
        await until(pilot, lambda: any("nothing to undo" in n for n in notices(app)))
        await send(pilot, "what now?")
        await finished(pilot)
        told = backend.seen[-1][-1].text
        assert "undid an earlier turn" in told and "what now?" in told


async def test_diff_shows_the_uncommitted_change(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        await send(pilot, "/diff")
        await until(pilot, lambda: app.query(ToolBlock))
        block = app.query_one(ToolBlock)
        body = str(block.query_one(".tool-body").render())
        assert "1 file changed" in str(block.query_one(".tool-status").render())
        assert "-    return a - b" in body and "+    return a + b" in body


async def test_unknown_command_points_to_help(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/frobnicate")
        assert any("unknown command /frobnicate" in n for n in notices(app))


async def test_command_completion_with_tab(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("/", "a", "p")
        menu = app.query_one("#menu")
        assert menu.display and menu.option_count == 1
        await pilot.press("tab")
        assert app.prompt.text == "/approval "
        await pilot.press("a", "u")
        assert menu.display and {str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)} == {"auto", "auto-edit"}
        await pilot.press("down", "tab")  # the second: auto
        assert app.prompt.text == "/approval auto"
        await pilot.press("enter")  # typed in full, so Enter runs it rather than picking auto-edit
        assert app.session.agent.tools.mode == "auto"


async def test_enter_on_a_complete_command_runs_it(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("/", "h", "e", "enter")
        assert isinstance(app.screen, HelpScreen)


async def test_a_model_that_fails_to_load_is_explained_and_model_switches(repo: Path):
    def opener(settings: Settings, notice):
        if settings.model == "gemma-4-12b":
            raise ModelNotPresent("model gemma-4-12b is not downloaded yet; download it with: gemma-code pull gemma-4-12b")
        notice("loading the small one")
        return ScriptedBackend.from_turns([{"text": "hello from the small model"}])

    app = GemmaCodeApp(Settings(model="gemma-4-12b"), repo, open_backend=opener, theme="textual-dark")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("could not load" in n for n in notices(app)))
        text = "\n".join(notices(app))
        assert "gemma-code pull gemma-4-12b" in text and "/model NAME" in text
        await send(pilot, "hi")
        assert app.prompt.text == "hi"  # kept, not lost
        assert any("no model is loaded" in n for n in notices(app))
        await send(pilot, "/model small")
        await ready(pilot)
        assert app.query_one(StatusBar).model == "small"
        await send(pilot, "hi")
        await finished(pilot)
        assert app.query(AssistantBlock).last().source == "hello from the small model"


async def test_sessions_lists_this_workspace(repo: Path, store):
    app, _ = make_app(repo, [{"text": "hi"}], store=store)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/sessions")
        assert any("no saved sessions" in n for n in notices(app))
        await send(pilot, "remember me")
        await finished(pilot)
        await send(pilot, "/sessions")
        listing = notices(app)[-1]
        assert app.session_id in listing and "remember me" in listing and "(this one)" in listing


async def test_quit_command_exits(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/quit")
        await until(pilot, lambda: not app.is_running)


async def test_ctrl_c_twice_quits_and_once_only_warns(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+c")
        assert app.is_running
        assert "again to quit" in app.prompt.border_subtitle
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.is_running)


async def test_loading_shows_notes_and_assembly_progress(repo: Path):
    release = threading.Event()
    backend = ScriptedBackend.from_turns([])

    def opener(settings: Settings, notice):
        notice("assembling the bundled model (1.1 GB, first run only)")
        notice.progress(256, 1024)
        release.wait(5)
        return backend

    app = GemmaCodeApp(Settings(model="qwen2.5-coder-1.5b"), repo, open_backend=opener, theme="textual-dark")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.query(LoadingBlock) and app.query_one(ProgressBar).progress == 256)
        loading = app.query_one(LoadingBlock)
        assert "Loading qwen2.5-coder-1.5b" in str(loading.query_one(".loading-label").render())
        assert "first run only" in str(loading.query_one(".loading-notes").render())
        assert app.query_one(ProgressBar).percentage == 0.25
        release.set()
        await ready(pilot)
        assert not app.query(LoadingBlock)
        assert any("model ready: qwen2.5-coder-1.5b (scripted" in n for n in notices(app))


async def test_model_without_a_name_lists_the_registry(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/model")
        listing = notices(app)[-1]
        assert "current: scripted-test" in listing
        assert "gemma-4-12b" in listing and "qwen2.5-coder-1.5b" in listing


async def test_pull_needs_a_real_terminal(repo: Path):
    app, _ = make_app(repo, [])
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await send(pilot, "/pull")
        assert "usage: /pull NAME" in notices(app)[-1]
        await send(pilot, "/pull gemma-4-12b")  # the test driver cannot hand the terminal over
        assert "run `gemma-code pull gemma-4-12b` in a shell" in notices(app)[-1]
