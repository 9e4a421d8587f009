"""A workspace's session as it lives on across model loads, `/clear` and resumes, and how
`gemma-code run` and the TUI open one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import get_args

from .approval import DenyApprover
from .checkpoints.records import UndoResult
from .checkpoints.store import Checkpoints
from .config import ApprovalMode, Settings
from .events import AgentEvent, ToolOutput
from .messages import Message, UserMessage
from .mcp.manager import McpManager
from .mcp.tools import mcp_tools
from .models import open_backend
from .protocols import Approver, Backend, Tool
from .session import Session
from .sessions import SessionFile, SessionInfo, SessionStore

APPROVAL_MODES: tuple[ApprovalMode, ...] = get_args(ApprovalMode)


class SessionLifecycle:
    """A workspace's session as it lives on across model loads, `/clear` and resumes.

    Each backend gets a new `Session` that carries the conversation, the approval mode and
    the "always" answers over. A conversation is saved (with a store) from its first turn.
    """

    def __init__(self, settings: Settings, root: Path, approver: Approver,
                 store: SessionStore | None = None) -> None:
        self.settings = settings
        self.root = Path(root).resolve()
        self.approver = approver
        self.store = store
        self.mode: ApprovalMode = settings.approval
        self.cancel = threading.Event()  # every session's: an approver can watch this one
        self.session: Session | None = None
        # Gets a running command's output as it comes (the TUI shows it live), on the turn's thread.
        self.on_output: Callable[[ToolOutput], None] | None = None
        # The conversation to go on with once a model is loaded (a resumed one, or none).
        self._saved: SessionFile | None = None
        self._history: list[Message] | None = None
        # The MCP servers: started with the first session, stopped by `close`.
        self.mcp: McpManager | None = None
        self._mcp_tools: Sequence[Tool] = ()

    @property
    def session_id(self) -> str | None:
        saved = self.session.saved if self.session else self._saved
        return saved.info.id if saved else None

    def set_mode(self, mode: ApprovalMode | None = None) -> ApprovalMode:
        """Set the approval mode, or move to the next one; the session follows at once."""
        self.mode = mode or APPROVAL_MODES[(APPROVAL_MODES.index(self.mode) + 1) % len(APPROVAL_MODES)]
        if self.session is not None:
            self.session.agent.tools.mode = self.mode
        return self.mode

    def use_backend(self, backend: Backend, settings: Settings | None = None) -> Backend | None:
        """Go on with a model just loaded (with the settings it was loaded with): same
        conversation, mode and "always" answers. Returns the backend it replaced, closed."""
        old = self.session
        if settings is not None:
            self.settings = settings
        if old is None:
            self._renew(backend, self._saved, self._history)
            return None
        self._renew(backend, old.saved, old.agent.messages)
        old.backend.close()
        return old.backend

    def clear(self) -> None:
        """Start a new conversation."""
        self._saved, self._history = None, None
        if self.session is not None:
            self._renew(self.session.backend, None, None)

    def resume(self, session_id: str) -> list[Message]:
        """Go on with a saved conversation; returns its messages. Raises SessionNotFound."""
        if self.store is None:
            raise ValueError("resuming needs a session store")
        self._saved, self._history = self.store.load(session_id)
        if self.session is not None:
            self._renew(self.session.backend, self._saved, self._history)
        return self._history

    def saved_sessions(self) -> list[SessionInfo]:
        """The saved sessions of this workspace, newest first."""
        return self.store.list(self.root) if self.store else []

    def run(self, user: UserMessage) -> Iterator[AgentEvent]:
        """One turn of the current session (see `Session.run`); its file is made at the first."""
        if self.session is None:
            raise RuntimeError("no model is loaded")
        if self.session.saved is None and self.store is not None:
            self.session.saved = self.store.create(self.root, self.settings.model)
        return self.session.run(user)

    def compact(self, focus: str = "") -> Iterator[AgentEvent]:
        """Compact the current conversation now (see `Session.compact`)."""
        if self.session is None:
            raise RuntimeError("no model is loaded")
        return self.session.compact(focus)

    def undo(self) -> UndoResult:
        """Restore the files the last turn changed; the session's model hears of it."""
        return self.session.undo() if self.session else Checkpoints(self.root).undo()

    def close(self) -> None:
        """Free the model and stop the MCP servers."""
        if self.session is not None:
            self.session.backend.close()
        self.stop_servers()

    def stop_servers(self) -> None:
        if self.mcp is not None:
            self.mcp.close()

    def _start_servers(self) -> list[str]:
        """Start the MCP servers (once): what the person is told about each."""
        if self.mcp is not None or not self.settings.mcp_servers:
            return []
        self.mcp = McpManager(self.settings.mcp_servers, self.root)
        started = self.mcp.start()
        self._mcp_tools, left_out = mcp_tools(self.mcp, [])
        return [*started, *left_out]

    def _output(self, text: str) -> None:
        if self.on_output is not None:
            self.on_output(ToolOutput(text=text))

    def _renew(self, backend: Backend, saved: SessionFile | None,
               history: list[Message] | None) -> None:
        started = self._start_servers()
        session = Session(self.settings, backend, self.root, self.approver, saved, history,
                          cancel=self.cancel, mcp_tools=self._mcp_tools)
        session.notices += started
        session.agent.tools.mode = self.mode
        session.agent.ctx.output = self._output
        if self.session is not None:  # "always" answers hold for as long as the lifecycle
            session.agent.tools.keep_approvals_of(self.session.agent.tools)
        self.session = session


@contextmanager
def open_session(
    settings: Settings,
    root: Path,
    *,
    approver: Approver | None = None,
    notice: Callable[[str], None] = lambda text: None,
    store: SessionStore | None = None,
    resume: str | None = None,
) -> Iterator[SessionLifecycle]:
    """Load the backend and start a session lifecycle on it; the backend is closed on exit.

    Without an approver (headless), calls that need approval are denied and the model told.
    With a store, the conversation is saved there; `resume` names a saved one to go on with.
    """
    lifecycle = SessionLifecycle(settings, root, approver or DenyApprover(), store)
    if store is not None and resume is not None:
        lifecycle.resume(resume)  # a wrong id fails before the model loads
    backend = open_backend(settings, notice=notice)
    try:
        lifecycle.use_backend(backend)
        yield lifecycle
    finally:
        backend.close()
        lifecycle.stop_servers()
