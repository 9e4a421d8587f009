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
from .messages import SystemMessage, UserMessage
from .prompts import system_prompt
from .protocols import Approver, Backend, GenerationOptions, ToolContext
from .registry import ToolRegistry
from .workspace import LocalWorkspace


class Session:
    """The agent and what it needs, ready to run turns."""

    def __init__(self, settings: Settings, backend: Backend, root: Path, approver: Approver) -> None:
        self.settings = settings
        self.backend = backend
        self.workspace = LocalWorkspace(root)
        self.cancel = threading.Event()
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
            messages=[SystemMessage(content=system_prompt(self.workspace.root))],
        )

    def run(self, user: UserMessage) -> Iterator[AgentEvent]:
        self.cancel.clear()
        return run_turn(self.agent, user)


@contextmanager
def open_session(
    settings: Settings,
    root: Path,
    *,
    approver: Approver | None = None,
    notice: Callable[[str], None] = lambda text: None,
) -> Iterator[Session]:
    """Load the backend and build a session; the backend is closed on exit.

    Without an approver (headless), calls that need approval are denied and the model told.
    """
    approver = approver or DenyApprover()
    backend = open_backend(settings, notice=notice)
    try:
        yield Session(settings, backend, root, approver)
    finally:
        backend.close()
