"""The app's keys and its conversation commands (undo, /clear, resume), apart from app.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.app import SystemCommand

from gemma_code.agent.messages import UserMessage
from gemma_code.agent.sessions import SessionNotFound

from .commands import COMMANDS, MODE_HELP, HelpScreen, run_command
from .history import conversation_tokens, user_display
from .status import StatusBar, WorkingLine
from .widgets import ToolBlock

if TYPE_CHECKING:
    from .app import GemmaCodeApp

QUIT_WINDOW = 2.0  # seconds in which a second Ctrl+C quits
FLASH_SECONDS = 4.0  # how long a note under the input stays


class AppActions:
    """Mixed into GemmaCodeApp: what the keys do, and going back, afresh or to a saved session."""

    _last_ctrl_c = 0.0
    _flash_timer = None

    # --- keys -------------------------------------------------------------------------

    def flash(self: GemmaCodeApp, text: str) -> None:
        """A short note on the input's lower border (a toast left traces in some terminals)."""
        self.prompt.border_subtitle = text
        if self._flash_timer is not None:
            self._flash_timer.stop()
        self._flash_timer = self.set_timer(FLASH_SECONDS, self._unflash)

    def _unflash(self: GemmaCodeApp) -> None:
        self.prompt.border_subtitle = ""
        self._flash_timer = None

    def check_action(self: GemmaCodeApp, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "interrupt":  # in the footer only while there is something to interrupt
            return self.running
        return True

    def action_interrupt(self: GemmaCodeApp) -> None:
        if self.running and self.session is not None:
            self.session.cancel.set()
            self.query_one(WorkingLine).show("interrupting…", spinning=False)

    def action_ctrl_c(self: GemmaCodeApp) -> None:
        """Text in the input: clear it. Else interrupt, and quit when pressed again soon."""
        if self.prompt.text and self.screen is self.prompt.screen:
            self.prompt.clear()
            self.flash("input cleared · Ctrl+C twice on an empty input quits")
            return
        now = time.monotonic()
        if now - self._last_ctrl_c < QUIT_WINDOW:
            self.exit()
            return
        self._last_ctrl_c = now
        self.action_interrupt()
        self.flash("press Ctrl+C again to quit")

    def action_transcript_page(self: GemmaCodeApp, direction: int) -> None:
        """PageUp / PageDown from the input or an approval: scroll the conversation (at once:
        an animated scroll lags behind keys pressed in a row)."""
        self.action_transcript_line(direction * self.transcript.scrollable_content_region.height)

    def action_transcript_line(self: GemmaCodeApp, lines: int) -> None:
        transcript = self.transcript
        transcript.scroll_to(y=transcript.scroll_y + lines, animate=False, immediate=True)

    def action_cycle_mode(self: GemmaCodeApp) -> None:
        self.set_mode(None)

    def action_toggle_last(self: GemmaCodeApp) -> None:
        blocks = self.query(ToolBlock)
        if blocks:
            blocks.last().action_toggle()

    def action_help(self: GemmaCodeApp) -> None:
        self.push_screen(HelpScreen())

    def set_mode(self: GemmaCodeApp, mode: str | None) -> None:
        """Set the approval mode, or move to the next one."""
        mode = self.lifecycle.set_mode(mode)
        self.status.mode = mode
        self.flash(f"approval mode: {mode} ({MODE_HELP[mode]})")

    def get_system_commands(self: GemmaCodeApp, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (Ctrl+P): the slash commands first, then Textual's own."""
        for command in COMMANDS.values():
            if command.args and not command.args.startswith("["):  # it needs an argument
                def start(name: str = command.name) -> None:
                    self.prompt.load_text(f"/{name} ")
                    self.prompt.move_cursor(self.prompt.document.end)
                    self.prompt.focus()
                yield SystemCommand(f"/{command.name}", command.help, start)
            else:
                async def run(name: str = command.name) -> None:
                    await run_command(self, f"/{name}")
                yield SystemCommand(f"/{command.name}", command.help, run)
        yield from super().get_system_commands(screen)  # type: ignore[misc]

    # --- conversations ----------------------------------------------------------------

    async def _refuse_while_running(self: GemmaCodeApp) -> bool:
        if self.running:
            await self.say("a turn is running; Esc interrupts it first", "error")
        return self.running

    async def undo_last_turn(self: GemmaCodeApp) -> None:
        """Restore the files the last turn changed (see `Session.undo`)."""
        from gemma_code.agent.checkpoints.records import CheckpointError, undo_summary

        if await self._refuse_while_running():
            return
        try:
            result = await asyncio.to_thread(self.lifecycle.undo)
        except CheckpointError as exc:
            await self.say(str(exc), "error")
            return
        await self.say(undo_summary(result))
        self.refresh_workspace()

    async def new_conversation(self: GemmaCodeApp) -> None:
        if await self._refuse_while_running():
            return
        await self.transcript.clear_blocks()
        self.lifecycle.clear()
        self.status.usage, self.status.restored = None, 0
        await self.say("new conversation")

    async def resume_session(self: GemmaCodeApp, session_id: str) -> None:
        if await self._refuse_while_running() or self.lifecycle.store is None:
            return
        try:
            history = self.lifecycle.resume(session_id)
        except SessionNotFound as exc:
            await self.say(str(exc), "error")
            return
        await self.transcript.clear_blocks()
        await self.transcript.show_history(history)
        for message in history:
            if isinstance(message, UserMessage):
                self.prompt.sent.add(user_display(message.typed))
        self.status.usage = None
        self.restore_context()
        await self.say(f"resumed session {session_id} ({len(history)} messages)")

    def restore_context(self: GemmaCodeApp) -> None:
        """A resumed conversation's size in the status bar, until a step reports its own."""
        session = self.session
        status = self.query_one(StatusBar)
        if session is not None and status.usage is None and len(session.agent.messages) > 1:
            status.restored = conversation_tokens(session.agent.messages, session.backend)
