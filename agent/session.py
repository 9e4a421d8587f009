"""A session: one backend, one workspace, one conversation. Shared by the CLI and the TUI."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gemma_code.backends.factory import open_backend
from gemma_code.tools import default_tools

from gemma_code.tools.sandbox import detect_sandbox, sandbox_unavailable_reason

from .approval import DenyApprover
from .checkpoints import Checkpoint, CheckpointError, Checkpoints, UndoResult
from .config import Settings
from .events import AgentEvent, Notice, TurnDone
from .images import ImageForModel, PreparedImage, image_for_model, prepare_image
from .loop import Agent, run_turn
from .messages import AssistantMessage, Message, SystemMessage, TextPart, UserMessage
from .prompts import system_prompt
from .protocols import Approver, Backend, GenerationOptions, ShellSandbox, ToolContext
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
        self.notices: list[str] = []  # said once, at the start of the next turn
        self.model_notes: list[str] = []  # told to the model with the next user message
        sandbox = self._sandbox(settings)
        self.checkpoints = Checkpoints(self.workspace.root) if settings.checkpoints else None
        registry = ToolRegistry(
            default_tools(), settings.approval, approver, settings.shell_allow,
            auto_runs_shell=sandbox is not None or settings.sandbox == "off",
            before_change=self.checkpoints.before_change if self.checkpoints else None,
        )
        self.agent = Agent(
            backend=backend,
            tools=registry,
            ctx=ToolContext(
                self.workspace, self.cancel, settings.shell_timeout, sandbox,
                vision=backend.vision, network=settings.network,
            ),
            options=GenerationOptions(
                max_tokens=settings.max_tokens, temperature=settings.temperature,
                constrain_tool_calls=settings.constrain_tool_calls, cancel=self.cancel,
            ),
            max_steps=settings.max_steps,
            messages=history or [SystemMessage(content=system_prompt(self.workspace.root))],
        )
        self._saved_count = len(history) if history else 0

    def _sandbox(self, settings: Settings) -> ShellSandbox | None:
        if settings.sandbox == "off":
            return None
        sandbox = detect_sandbox(network=settings.network)
        if sandbox is None:
            self.notices.append(
                f"no shell sandbox: {sandbox_unavailable_reason(network=settings.network)}. "
                "Shell commands run unconfined, "
                "so they ask for approval even in auto mode."
            )
        return sandbox

    def _save(self) -> None:
        new = self.agent.messages[self._saved_count :]
        if self.saved is not None and new:
            self.saved.append(new)
        self._saved_count = len(self.agent.messages)

    def attach_image(
        self, source: Path | bytes | PreparedImage, name: str | None = None
    ) -> ImageForModel:
        """An image for the next message: itself for a model with vision, else its OCR text.

        Raises ImageError (missing, not an image, damaged, too big, no OCR) with the reason.
        """
        if not isinstance(source, PreparedImage):
            source = prepare_image(source, name=name)
        return image_for_model(source, vision=self.backend.vision)

    def run(self, user: UserMessage) -> Iterator[AgentEvent]:
        """Run one turn; every message is saved as soon as the loop adds it.

        The workspace is checkpointed before the turn's first change; when the turn ends the
        person hears what changed and, with auto-commit, the commit that recorded it.
        """
        self.cancel.clear()
        for text in self.notices:
            yield Notice(text=text)
        self.notices.clear()
        label = user.typed
        if self.model_notes:
            notes = tuple(TextPart(text=note) for note in self.model_notes)
            user = UserMessage(content=(*notes, *user.content))
            self.model_notes.clear()
        self._save()
        if self.checkpoints is not None:
            self.checkpoints.begin_turn(label)
        done = None
        try:
            for event in run_turn(self.agent, user):
                self._save()
                if isinstance(event, TurnDone):
                    done = event  # stays the turn's last event, after the checkpoint notices
                else:
                    yield event
        finally:
            self._save()
            ended = self._end_turn()
        yield from ended
        if done is not None:
            yield done

    def undo(self) -> UndoResult:
        """Restore the files the last not-yet-undone turn changed; the model hears of it."""
        if self.checkpoints is None:
            raise CheckpointError("checkpoints are off for this session (checkpoints = false)")
        result = self.checkpoints.undo()
        files = ", ".join((*result.restored, *result.deleted)) or "no files"
        self.model_notes.append(
            f"(The user undid an earlier turn of yours: {files} are back as they were before it. "
            "Read files again before changing them.)"
        )
        return result

    def _end_turn(self) -> list[Notice]:
        if self.checkpoints is None:
            return []
        try:
            checkpoint = self.checkpoints.end_turn()
        except CheckpointError as exc:
            return [Notice(text=f"the end of this turn was not checkpointed: {exc}")]
        if checkpoint is None or not checkpoint.files:
            return []
        said = [Notice(text=_changed_line(checkpoint))]
        if self.settings.auto_commit:
            said.append(Notice(text=self._commit(checkpoint)))
        return said

    def _commit(self, checkpoint: Checkpoint) -> str:
        answer = next((m.text for m in reversed(self.agent.messages)
                       if isinstance(m, AssistantMessage) and m.text.strip()), "")
        try:
            sha = self.checkpoints.commit_turn(checkpoint, answer.strip())
        except CheckpointError as exc:
            return str(exc)
        return f"committed {sha[:10]}" if sha else "auto-commit: nothing to commit"


def _changed_line(checkpoint: Checkpoint) -> str:
    files = checkpoint.files
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return f"changed {shown} (/undo or `gemma-code undo` puts them back)"


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
