"""Pilot tests of the trust prompt: a project's settings that lower safety, asked about at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemma_code.agent.config import load_config
from gemma_code.agent.trust import TrustStore
from gemma_code.agent.tui.app import GemmaCodeApp
from gemma_code.agent.tui.trust import TrustScreen
from gemma_code.backends.scripted import ScriptedBackend

from .conftest import finished, notices, ready, send, until

pytestmark = pytest.mark.asyncio

UNCONFINED = 'approval = "auto"\nsandbox = "off"\n'


def app_for(repo: Path) -> tuple[GemmaCodeApp, list]:
    """The app as `gemma-code` builds it for `repo`, on the scripted backend; and the settings
    each model load was given."""
    (repo / ".gemma-code.toml").write_text(UNCONFINED)
    loaded = load_config(repo, {"backend": "scripted", "model": "scripted-test"}, environ={})
    trusted = load_config(repo, {"backend": "scripted", "model": "scripted-test"}, environ={}, trusted=True)
    loads: list = []

    def open_backend(settings, notice):
        loads.append(settings)
        return ScriptedBackend.from_turns([{"text": "one"}, {"text": "two"}])

    app = GemmaCodeApp(loaded.settings, repo, open_backend=open_backend, theme="textual-dark",
                       trust=loaded.offer(trusted.settings))
    return app, loads


def screen_text(screen: TrustScreen) -> str:
    return "\n".join(str(widget.render()) for widget in screen.query("Static"))


async def test_trusting_applies_the_settings_and_every_turn_says_the_shell_is_unconfined(repo: Path):
    app, loads = app_for(repo)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TrustScreen))
        text = screen_text(app.screen)
        assert 'approval = "auto"' in text and 'sandbox = "off"' in text
        assert loads == [] and app.session is None  # nothing loads before the answer
        await pilot.press("y")
        await ready(pilot)
        assert loads[0].sandbox == "off" and app.lifecycle.mode == "auto"
        for message in ("hi", "again"):
            await send(pilot, message)
            await finished(pilot)
        said = [line for line in notices(app) if "the shell is not sandboxed" in line]
        assert len(said) == 2  # two turns, two notices
    project = load_config(repo, environ={}).project
    assert project is not None and TrustStore().state(repo, project.digest) == "trusted"


async def test_declining_keeps_the_safe_values_and_says_what_was_ignored(repo: Path):
    app, loads = app_for(repo)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TrustScreen))
        await pilot.press("enter")  # the focused answer is "ignore them"
        await ready(pilot)
        assert loads[0].sandbox == "auto" and app.lifecycle.mode == "ask"
        assert any('ignored approval = "auto", sandbox = "off"' in line for line in notices(app))
    project = load_config(repo, environ={}).project
    assert project is not None and TrustStore().state(repo, project.digest) == "new"
