"""A session: one backend, one workspace, one conversation. Shared by the CLI and the TUI."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gemma_code.backends.factory import open_backend
from gemma_code.tools import default_tools

from .approval import DenyApprover
from .config import Settings
from .events import AgentEvent
from .loop import Agent, run_turn
from .messages import Message, SystemMessage, UserMessage
from .prompts import system_prompt
from .protocols import Approver, Backend, GenerationOptions, ToolContext
from .registry import ToolRegistry
from .sessions import SessionFile, SessionStore
from .workspace import LocalWorkspace


class Session:
    """The agent and what it needs, ready to run turns; saved as it goes when given a file."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        root: Path,
        approver: Approver,
        saved: SessionFile | None = None,
        history: list[Message] | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.workspace = LocalWorkspace(root)
        self.cancel = threading.Event()
        self.saved = saved
        registry = ToolRegistry(default_tools(), settings.approval, approver, settings.shell_allow)
        self.agent = Agent(
            backend=backend,
            tools=registry,
            ctx=ToolContext(self.workspace, self.cancel, settings.shell_timeout),
            options=GenerationOptions(
                max_tokens=settings.max_tokens, temperature=settings.temperature,
                constrain_tool_calls=settings.constrain_tool_calls, cancel=self.cancel,
            ),
            max_steps=settings.max_steps,
            messages=history or [SystemMessage(content=system_prompt(self.workspace.root))],
        )
        self._saved_count = len(history) if history else 0

    def _save(self) -> None:
        new = self.agent.messages[self._saved_count :]
        if self.saved is not None and new:
            self.saved.append(new)
        self._saved_count = len(self.agent.messages)

    def run(self, user: UserMessage) -> Iterator[AgentEvent]:
        """Run one turn; every message is saved as soon as the loop adds it."""
        self.cancel.clear()
        self._save()
        for event in run_turn(self.agent, user):
            self._save()
            yield event
        self._save()

@contextmanager
def open_session(
    settings: Settings,
    root: Path,
    *,
    approver: Approver | None = None,
    notice: Callable[[str], None] = lambda text: None,
    store: SessionStore | None = None,
    resume: str | None = None,
) -> Iterator[Session]:
    """Load the backend and build a session; the backend is closed on exit.

    Without an approver (headless), calls that need approval are denied and the model told.
    With a store, the conversation is saved there; `resume` names a saved one to go on with.
    """
    approver = approver or DenyApprover()
    saved, history = None, None
    if store is not None and resume is not None:
        saved, history = store.load(resume)
    backend = open_backend(settings, notice=notice)
    try:
        if store is not None and saved is None:
            saved = store.create(root, settings.model)
        yield Session(settings, backend, root, approver, saved, history)
    finally:
        backend.close()
