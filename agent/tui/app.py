"""The gemma-code Textual app: transcript, input, status bar; the agent runs in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Footer, OptionList

from gemma_code.agent.attachments import expand_mentions
from gemma_code.agent.config import Settings
from gemma_code.agent.events import AgentEvent, ApprovalNeeded, ApprovalResolved, ToolFinished, ToolOutput, Usage
from gemma_code.agent.messages import UserMessage
from gemma_code.agent.models import BackendOpener, model_label, open_backend_with_progress
from gemma_code.agent.lifecycle import SessionLifecycle
from gemma_code.agent.session import Session
from gemma_code.agent.sessions import SessionStore
from gemma_code.agent.trust import TrustOffer

from .actions import AppActions
from .approval import ApprovalPrompt, approval_hint
from .attach import AttachmentBar, ImageAttacher
from .commands import complete_command, run_command
from .history import mentioned_files, missing_mentions
from .input import PromptInput, Suggestion, file_suggestions, list_files
from .messages import AgentEventPosted, LoadReporter, LoadUpdate, ModelLoaded, OutputArrived, OutputRelay, TurnEnded
from .runtime import QueueApprover, git_state, pick_theme
from .status import StatusBar, WorkingLine
from .transcript import Transcript
from .trust import start_model
from .widgets import LoadingBlock, NoticeBlock, UserBlock

IMAGES_ONLY_TEXT = "See the attached image."  # what is sent when only images were given


class GemmaCodeApp(AppActions, App[None]):
    """A terminal coding assistant: one session, one model, one workspace."""

    CSS_PATH = "app.tcss"
    TITLE = "gemma-code"
    AUTO_FOCUS = "#prompt"  # keys typed while the app starts go to the input
    BINDINGS = [
        Binding("escape", "interrupt", "Stop"),
        Binding("ctrl+c", "ctrl_c", "Quit", priority=True),
        Binding("shift+tab", "cycle_mode", "Mode", priority=True, key_display="⇧tab"),
        Binding("ctrl+o", "toggle_last", "Expand", show=False),
        Binding("f1", "help", "Help"),
    ]

    def __init__(
        self,
        settings: Settings,
        root: Path,
        *,
        open_backend: BackendOpener | None = None,
        store: SessionStore | None = None,
        resume: str | None = None,
        theme: str | None = None,
        trust: TrustOffer | None = None,
    ) -> None:
        super().__init__()
        self.trust_offer = trust  # the project's settings that lower safety: asked about at start
        self.root = Path(root).resolve()
        self.open_backend = open_backend or open_backend_with_progress
        self.resume_id = resume
        chosen = theme or pick_theme()
        self.theme = chosen if chosen in self.available_themes else "textual-dark"
        self.approver = QueueApprover()
        self.lifecycle = SessionLifecycle(settings, self.root, self.approver, store)
        self.approver.cancel = self.lifecycle.cancel
        self.output = OutputRelay(self)
        self.lifecycle.on_output = self.output  # a running command's output, shown as it comes
        self.files: list[str] = []
        self.running = False
        self.idle = threading.Event()
        self.idle.set()
        self._loading: LoadingBlock | None = None
        self._pending: str | None = None
        self.queued: list[str] = []  # sent while a turn ran: each goes when the turn before ends

    # --- layout -----------------------------------------------------------------------

    def compose(self):
        yield Transcript(id="transcript")
        yield WorkingLine(id="working")
        menu = OptionList(id="menu")
        yield menu
        bar = AttachmentBar(id="attachments")
        self.images = ImageAttacher(bar, self.root, lambda: self.session, self.say)
        yield bar
        yield PromptInput(menu, self._complete, self.images.pasted, id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def attachments(self) -> AttachmentBar:
        return self.query_one(AttachmentBar)

    @property
    def session(self) -> Session | None:
        return self.lifecycle.session

    @property
    def session_id(self) -> str | None:
        return self.lifecycle.session_id

    @property
    def current_model(self) -> str:  # as the status bar names it
        return self.status.model

    async def on_mount(self) -> None:
        self.query_one("#menu").display = False
        self.query_one(WorkingLine).hide()
        self.status.mode = self.lifecycle.mode
        self.status.workspace = self.root.name
        self.status.model = model_label(self.lifecycle.settings)
        self.prompt.border_title = "message · Enter sends · Ctrl+J new line · / commands · @ files"
        self.prompt.can_send_empty = lambda: bool(self.attachments.pending)
        await self.say(Content.assemble(
            ("gemma-code", "bold $text-primary"), f" in {self.root.name}. ",
            "Ask for a change, or type / for commands and @ to attach a file. F1: help.",
        ))
        if self.resume_id:
            await self.resume_session(self.resume_id)
        start_model(self, self.trust_offer)
        self.refresh_workspace()
        self.prompt.focus()

    async def say(self, text: str | Content, kind: str = "info") -> None:
        await self.transcript.add(NoticeBlock(text, kind))

    def _complete(self, before: str) -> list[Suggestion]:
        if before.startswith("/"):
            return complete_command(self, before)
        return file_suggestions(before, self.files)

    # --- the model --------------------------------------------------------------------

    @work(thread=True, group="load", exit_on_error=False)
    def load_model(self, settings: Settings) -> None:
        self.call_from_thread(self._show_loading, settings)
        try:
            backend = self.open_backend(settings, LoadReporter(self))
        except Exception as exc:  # noqa: BLE001 - any failure is shown, the app stays usable
            self.post_message(ModelLoaded(settings, None, exc))
        else:
            if not self.post_message(ModelLoaded(settings, backend, None)):
                backend.close()  # the app closed while the model loaded

    async def _show_loading(self, settings: Settings) -> None:
        self._loading = await self.transcript.add(LoadingBlock(model_label(settings)))

    def on_load_update(self, message: LoadUpdate) -> None:
        if self._loading is not None:
            self._loading.take_update(message.text, message.done, message.total)

    async def on_model_loaded(self, message: ModelLoaded) -> None:
        if self._loading is not None:
            await self._loading.remove()
            self._loading = None
        label, backend = model_label(message.settings), message.backend
        if backend is None:
            if self.session is None:
                self.status.model = f"{label} (not loaded)"
            await self._load_failed(label, message.error)
            return
        old = self.lifecycle.use_backend(backend, message.settings)
        label = getattr(backend, "served_model", None) or label  # a server's "auto" named
        self.status.model, self.status.backend = label, backend.name
        self.status.context_size, self.status.usage = backend.context_size, None
        self.restore_context()
        await self.say(f"model ready: {label} ({backend.name}, context {backend.context_size})")
        if old is not None:
            await self.images.model_changed(old.vision, backend.vision)
        if self._pending is not None:
            text, self._pending = self._pending, None
            await self._start_turn(text, shown=True)

    async def _load_failed(self, label: str, error: Exception | None) -> None:
        reason = str(error) or type(error).__name__
        if type(error).__module__ == "builtins":
            reason = f"{type(error).__name__}: {reason}"
        await self.say(f"could not load {label}: {reason}", "error")
        await self.say("Switch with /model NAME (/model lists the models and which are here).", "warning")
        if self._pending is not None:
            self.prompt.load_text(self._pending)
            self._pending = None

    async def switch_model(self, name: str) -> None:
        if await self._refuse_while_running():
            return
        if self._loading is not None:
            await self.say("a model is loading already; switch when it is ready", "error")
            return
        self.load_model(self.lifecycle.settings.model_copy(update={"model": name}))

    # --- turns ------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text
        if text.startswith("/"):
            await run_command(self, text)
        elif self.running:
            self.queued.append(text)
            await self.transcript.add(UserBlock(text, queued=True))
            await self.say("queued: it goes when this turn ends (Esc ends the turn now)")
        elif reading := self.attachments.pending.reading:
            self.prompt.load_text(text)
            await self.say(f"still reading {', '.join(reading)}; send when it is attached", "warning")
        else:
            await self._start_turn(text)

    async def _start_turn(self, text: str, shown: bool = False) -> None:
        ready = self.attachments.pending.ready
        if not text and ready:
            text = IMAGES_ONLY_TEXT
        expanded = expand_mentions(text, self.root)  # pasted text is not searched for @paths
        expanded.text = self.prompt.expand_pastes(expanded.text)
        expanded.attached = [*mentioned_files(expanded.text), *(a.name for a in ready)]
        if self.session is None:
            if self._loading is None:
                self.prompt.load_text(text)
                await self.say("no model is loaded; /model NAME loads one", "error")
                return
            self._pending = text
            await self.transcript.add(UserBlock(text, expanded.attached))
            await self.say("the model is still loading; the message goes when it is ready")
            return
        if not shown:
            await self.transcript.add(UserBlock(text, expanded.attached))
        for problem in [*expanded.problems, *missing_mentions(text, expanded)]:
            await self.say(problem, "warning")
        self.transcript.anchor()
        self.running = True
        self.refresh_bindings()
        self.idle.clear()
        self.approver.reset()
        self.query_one(WorkingLine).start()
        self.run_turn(self.lifecycle.run(UserMessage.of(expanded.text, self.attachments.pending.parts())))
        self.attachments.clear()

    @work(thread=True, group="turn", exit_on_error=False)
    def run_turn(self, events: Iterator[AgentEvent]) -> None:
        error = None
        try:
            for event in events:
                self.post_message(AgentEventPosted(event))
        except Exception as exc:  # noqa: BLE001 - shown in the transcript; the app stays up
            error = exc
        finally:
            self.post_message(TurnEnded(error))
            self.idle.set()

    async def on_agent_event_posted(self, message: AgentEventPosted) -> None:
        event = message.event
        await self.transcript.show(event)
        working = self.query_one(WorkingLine)
        working.count(event)
        if isinstance(event, Usage):
            self.status.usage = event
        elif isinstance(event, ToolFinished):
            self.refresh_workspace()  # an edit or a command may have changed the tree
        elif isinstance(event, ApprovalNeeded):
            working.show(approval_hint(event), spinning=False)
        elif isinstance(event, ApprovalResolved) and self.running:
            working.working()
            self.prompt.focus()

    async def on_output_arrived(self, message: OutputArrived) -> None:
        if text := self.output.take():
            await self.transcript.show(ToolOutput(text=text))

    async def on_turn_ended(self, message: TurnEnded) -> None:
        self.running = False
        self.refresh_bindings()
        self.query_one(WorkingLine).hide()
        await self.transcript.end_text()
        for prompt in self.transcript.pending_prompts():
            prompt.answered = True
            await prompt.remove()
        if (error := message.error) is not None:
            await self.say(f"the turn failed: {type(error).__name__}: {error}", "error")
        self.refresh_workspace()
        if not isinstance(self.focused, ApprovalPrompt):
            self.prompt.focus()
        if self.queued:
            await self._start_turn(self.queued.pop(0), shown=True)

    def on_approval_prompt_answered(self, message: ApprovalPrompt.Answered) -> None:
        self.approver.answer(message.decision)
        self.prompt.focus()

    @work(thread=True, group="workspace", exclusive=True, exit_on_error=False)
    def refresh_workspace(self) -> None:
        self.call_from_thread(self._set_workspace, git_state(self.root), list_files(self.root))

    def _set_workspace(self, state: str, files: list[str]) -> None:
        self.status.git, self.files = state, files

    # --- images -----------------------------------------------------------------------

    async def on_prompt_input_clipboard_image_wanted(self, message: PromptInput.ClipboardImageWanted) -> None:
        await self.images.clipboard(tag="ctrl+v")

    async def on_attachment_bar_done(self, message: AttachmentBar.Done) -> None:
        await self.images.report(message, self.prompt.paste_local if self.clipboard else None)

    # --- leaving ----------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.exit()

    def on_unmount(self) -> None:
        self.lifecycle.cancel.set()  # stops generation, a shell command, a waiting approval

    def shutdown(self, timeout: float = 10.0) -> None:
        """After the app has exited: let the turn thread stop, then free the model."""
        self.lifecycle.cancel.set()
        if self.idle.wait(timeout):
            self.lifecycle.close()
