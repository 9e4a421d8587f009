"""Messages from the worker threads to the app (Textual's post_message is thread-safe)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual.message import Message

from gemma_code.agent.config import Settings
from gemma_code.agent.events import AgentEvent, ToolOutput
from gemma_code.agent.protocols import Backend

if TYPE_CHECKING:
    from textual.app import App


class AgentEventPosted(Message):
    def __init__(self, event: AgentEvent) -> None:
        self.event = event
        super().__init__()


class OutputArrived(Message):
    """A running command wrote more output: `OutputRelay.take` has it."""


class OutputRelay:
    """The session's `on_output` listener: gathers a command's output on the turn's thread and
    tells the app once until the app takes it, however fast the command writes."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._chunks: list[str] = []

    def __call__(self, event: ToolOutput) -> None:
        if not event.text:
            return
        with self._lock:
            first = not self._chunks
            self._chunks.append(event.text)
        if first:
            self.app.post_message(OutputArrived())

    def take(self) -> str:
        with self._lock:
            text, self._chunks = "".join(self._chunks), []
        return text


class TurnEnded(Message):
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        super().__init__()


class LoadUpdate(Message):
    """A note or progress from the thread loading a model."""

    def __init__(self, text: str = "", done: int = 0, total: int = 0) -> None:
        self.text, self.done, self.total = text, done, total
        super().__init__()


class ModelLoaded(Message):
    def __init__(self, settings: Settings, backend: Backend | None, error: Exception | None) -> None:
        self.settings, self.backend, self.error = settings, backend, error
        super().__init__()


class LoadReporter:
    """The `notice` given to the opener; also takes assembly progress, a percent at a time."""

    def __init__(self, app: App) -> None:
        self.app, self._percent = app, -1

    def __call__(self, text: str) -> None:
        self.app.post_message(LoadUpdate(text=text))

    def progress(self, done: int, total: int) -> None:
        percent = 100 * done // total if total else 0
        if percent != self._percent:
            if self._percent < 0:
                self(f"assembling the bundled model ({total / 1e9:.1f} GB, first run only)")
            self._percent = percent
            self.app.post_message(LoadUpdate(done=done, total=total))
