"""Helpers for the TUI tests: the app on the scripted backend, in a real git repository."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gemma_code.agent.config import Settings
from gemma_code.agent.sessions import SessionStore
from gemma_code.agent.tui.app import GemmaCodeApp
from gemma_code.agent.tui.widgets import NoticeBlock
from gemma_code.backends.scripted import ScriptedBackend


def make_app(
    root: Path,
    turns: list[dict],
    *,
    approval: str = "ask",
    store: SessionStore | None = None,
    resume: str | None = None,
    chunk_size: int = 4,
    chunk_delay: float = 0.0,
    verify: str = "off",
    edit_guards: bool = False,
    context: bool = False,
) -> tuple[GemmaCodeApp, ScriptedBackend]:
    """The app with a scripted model; the backend is returned to check what the model saw.
    Unless a test asks for them, the tests do not run after edits (`verify`), scripted edits
    of files never read run (`edit_guards`), and no repo map or files go ahead of the first
    message (`context`): each has tests of its own."""
    backend = ScriptedBackend.from_turns(turns, chunk_size=chunk_size, chunk_delay=chunk_delay)
    budgets = {} if context else {"repo_map_tokens": 0, "context_files_tokens": 0}
    settings = Settings(model="scripted-test", approval=approval, verify=verify,
                        edit_guards=edit_guards, **budgets)
    app = GemmaCodeApp(settings, root, open_backend=lambda s, notice: backend, store=store,
                       resume=resume, theme="textual-dark")
    return app, backend


async def until(pilot, condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Let the app run until `condition()` is true; fail after `timeout` seconds (generous:
    workers such as image decoding are slow on a loaded 2-core machine, and a pass is quick)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.02)


async def ready(pilot) -> None:
    """Wait until the model is loaded."""
    await until(pilot, lambda: pilot.app.session is not None)
    await pilot.pause()


async def send(pilot, text: str) -> None:
    """Type a message and press Enter."""
    prompt = pilot.app.prompt
    prompt.focus()
    prompt.load_text(text)
    prompt.move_cursor(prompt.document.end)
    await pilot.press("enter")


async def finished(pilot, timeout: float = 4.0) -> None:
    await until(pilot, lambda: not pilot.app.running, timeout)
    await pilot.pause()


def notices(app: GemmaCodeApp) -> list[str]:
    return [str(block.render()) for block in app.query(NoticeBlock)]


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions")
