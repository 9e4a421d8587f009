"""A session: one backend, one workspace, one conversation, run a turn at a time with its
checkpoints, context, tests and saving (`lifecycle.py` carries it across model swaps)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path


from gemma_code.tools.sandbox import detect_sandbox, sandbox_unavailable_reason

from .approval import DenyApprover
from .checkpoints.records import Checkpoint, CheckpointError, UndoResult
from .checkpoints.store import Checkpoints
from .config import Settings
from .context import add_context
from .compaction import Compactor
from .context.prepare import token_counter
from .events import AgentEvent, Compacted, Notice, TurnDone, Usage
from .host_git import repository_changed
from .images import ImageForModel, PreparedImage, image_for_model, prepare_image
from .loop import Agent
from .messages import AssistantMessage, Message, SystemMessage, TextPart, UserMessage
from .models import offered_tools
from .prompts import system_prompt
from .protocols import Approver, Backend, GenerationOptions, ShellSandbox, Tool, ToolContext
from .registry import ToolRegistry
from .sessions import SessionFile
from .verify import Verifier, verified_turn
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
        *,
        cancel: threading.Event | None = None,
        mcp_tools: Sequence[Tool] = (),
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.workspace = LocalWorkspace(root)
        self.cancel = cancel or threading.Event()
        self.saved = saved
        self.notices: list[str] = []  # said once, at the start of the next turn
        self.model_notes: list[str] = []  # told to the model with the next user message
        self.unconfined: str | None = None  # why shell commands run unconfined, when they do
        self._turns = 0
        self._repository_warned: str | None = None
        self.changed_files: tuple[str, ...] = ()  # by the last turn, as its checkpoint says
        sandbox = self._sandbox(settings)
        self.checkpoints = Checkpoints(self.workspace.root) if settings.checkpoints else None
        registry = ToolRegistry(
            offered_tools(settings, backend, mcp_tools), settings.approval, approver,
            settings.shell_allow, auto_runs_shell=sandbox is not None or settings.sandbox == "off",
            before_change=self.checkpoints.before_change if self.checkpoints else None,
        )
        _approve_always(registry, mcp_tools)
        self.agent = Agent(
            backend=backend,
            tools=registry,
            ctx=ToolContext(
                self.workspace, self.cancel, settings.shell_timeout, sandbox,
                vision=backend.vision, network=settings.network,
                edit_guards=settings.edit_guards, syntax_guard=settings.syntax_guard,
            ),
            options=GenerationOptions(
                max_tokens=settings.max_tokens, temperature=settings.temperature,
                constrain_tool_calls=settings.constrain_tool_calls, cancel=self.cancel,
            ),
            max_steps=settings.max_steps,
            prose_nudge=settings.edit_guards, retry_temperature=settings.retry_temperature,
            messages=history or [SystemMessage(content=system_prompt(self.workspace.root, registry.names()))],
        )
        self._saved_count = len(history) if history else 0
        self.compactor = Compactor(backend, token_counter(backend), settings.compact_at)
        self.agent.before_step = self.compactor.before_step
        self.verifier = None if settings.verify == "off" else Verifier(
            self.workspace.root, rounds=settings.verify_rounds, configured=settings.test_command,
            timeout=settings.verify_timeout or settings.shell_timeout,
            can_ask=not isinstance(approver, DenyApprover),
        )

    def _sandbox(self, settings: Settings) -> ShellSandbox | None:
        if settings.sandbox == "off":
            self.unconfined = "off"
            return None
        sandbox = detect_sandbox(network=settings.network, env_pass=settings.shell_env_pass)
        if sandbox is None:
            self.unconfined = sandbox_unavailable_reason(network=settings.network)
        return sandbox

    def _unconfined_notice(self) -> Iterator[Notice]:
        """Every turn in which shell commands would run unconfined says so, not only the first."""
        first, self._turns = self._turns == 0, self._turns + 1
        mode = self.agent.tools.mode
        if self.unconfined is None or mode == "read-only":
            return
        if self.unconfined == "off":
            unasked = "; auto mode runs them without asking" if mode == "auto" else ""
            yield Notice(text='the shell is not sandboxed (sandbox = "off"): commands run '
                         f"unconfined, with your access to files and the network{unasked}")
        elif first:
            yield Notice(text=f"no shell sandbox: {self.unconfined}. Shell commands run "
                         "unconfined, so they ask for approval even in auto mode.")
        else:
            yield Notice(text="no shell sandbox: shell commands run unconfined "
                         "(each asks first, even in auto mode)")

    def _save(self) -> None:
        new = self.agent.messages[self._saved_count :]
        if self.saved is not None and new:
            self.saved.append(new)
        self._saved_count = len(self.agent.messages)

    def _saw(self, event: AgentEvent) -> None:
        """Save what the event added; a rewritten history is saved whole."""
        if isinstance(event, Usage):  # the prompt it counts is the history without the answer
            self.compactor.observe(event, self.agent.messages, self.agent.tools.specs())
        if isinstance(event, Compacted):
            if self.saved is not None:
                self.saved.rewrite(event.kind, self.agent.messages)
            self._saved_count = len(self.agent.messages)
        else:
            self._save()

    def compact(self, focus: str = "") -> Iterator[AgentEvent]:
        """Compact the conversation now (`/compact [focus]`): the model's summary replaces it."""
        self.cancel.clear()
        if not any(isinstance(m, UserMessage) for m in self.agent.messages):
            yield Notice(text="nothing to compact yet")
            return
        for event in self.compactor.compact(self.agent, focus=focus):
            self._saw(event)
            yield event

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
        yield from self._unconfined_notice()
        label = user.typed
        if self.model_notes:
            notes = tuple(TextPart(text=note) for note in self.model_notes)
            user = UserMessage(content=(*notes, *user.content))
            self.model_notes.clear()
        user, context = add_context(self.agent, self.settings, user)
        if context is not None:
            yield context
        self._save()
        if self.checkpoints is not None:
            self.checkpoints.begin_turn(label)
        done = None
        try:
            changed = self._changed if self.checkpoints is not None else None
            for event in verified_turn(self.agent, user, self.verifier, changed):
                self._saw(event)
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

    def forget_since(self, start: int) -> None:
        """Take the messages from `start` on out of the conversation (a discarded try), and
        out of the saved session."""
        del self.agent.messages[start:]
        if self.saved is not None:
            self.saved.rewrite("discarded", self.agent.messages)
        self._saved_count = len(self.agent.messages)

    def _changed(self) -> bool:
        """Whether the running turn has changed files (what decides that its tests run); a turn
        that changed only AGENTS.md files (`/init`) changed nothing the tests could check."""
        try:
            return any(Path(f).name != "AGENTS.md" for f in self.checkpoints.changed_so_far())
        except CheckpointError:
            return False

    def _end_turn(self) -> list[Notice]:
        if self.checkpoints is None:
            return []
        warning = self._repository_warning()
        try:
            checkpoint = self.checkpoints.end_turn()
            self.changed_files = checkpoint.files if checkpoint else ()
        except CheckpointError as exc:
            return [*warning, *self._nested_repos_warning(),
                    Notice(text=f"the end of this turn was not checkpointed: {exc}")]
        warning += self._nested_repos_warning()
        if checkpoint is None or not checkpoint.files:
            return warning
        said = [*warning, Notice(text=_changed_line(checkpoint))]
        if self.settings.auto_commit:
            said.append(Notice(text=self._commit(checkpoint)))
        return said

    def _repository_warning(self) -> list[Notice]:
        """Said once: the repository is not the one found at the start (the agent made or moved
        it), so the person's own git there may run what the agent planted in its config."""
        why = repository_changed(self.workspace.root)
        if why is None or why == self._repository_warned:
            return []
        self._repository_warned = why
        return [Notice(text=f"{why}. Before you use git there yourself, check its .git/config "
                            "and .git/hooks: what the agent wrote there could run programs")]

    def _nested_repos_warning(self) -> list[Notice]:
        """Said once: git repositories below the top that the turn made or changed (and new
        submodule entries), whose config and hooks the person's own git there would run."""
        text = self.checkpoints.nested_git.warning()
        return [Notice(text=text)] if text else []

    def _commit(self, checkpoint: Checkpoint) -> str:
        answer = next((m.text for m in reversed(self.agent.messages)
                       if isinstance(m, AssistantMessage) and m.text.strip()), "")
        try:
            sha = self.checkpoints.commit_turn(checkpoint, answer.strip())
        except CheckpointError as exc:
            return str(exc)
        return f"committed {sha[:10]}" if sha else "auto-commit: nothing to commit"


def _approve_always(registry: ToolRegistry, tools: Sequence[Tool]) -> None:
    """The tools of an MCP server with `approval = "auto"` run as if approved "always"
    (read-only mode still refuses them, as it does every mutating tool)."""
    offered = set(registry.names())
    for tool in tools:
        if getattr(tool, "approve_always", False) and tool.name in offered:
            registry.approve_always(tool.name)


def _changed_line(checkpoint: Checkpoint) -> str:
    files = checkpoint.files
    shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    back = "puts it back" if len(files) == 1 else "puts them back"
    return f"changed {shown} (/undo or gemma-code undo {back})"
